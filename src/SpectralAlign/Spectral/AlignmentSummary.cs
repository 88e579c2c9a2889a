using System.Runtime.Intrinsics;

namespace SpectralAlign.Spectral;

/// <summary>
/// The host side of <see cref="RowAlignment"/>: from a layer's per-row values the device sent back (largest
/// |element|, ‖hᵢ‖, hᵢ·v1, hᵢ·S), each valid row's SA = cos(hᵢ, v1) and centred SA = cos(hᵢ − h̄, v1), the
/// input-mean alignment, the largest row norm and |element|, and the statistics of both SA distributions: counts of
/// valid, zero and non-finite rows, mean, population standard deviation, sign fractions, R-7 quantiles (as MathNet's)
/// and the histogram. Works on reusable buffers.
/// </summary>
/// <remarks>
/// Per group, with c valid rows, S·v1 = Σ hᵢ·v1 and ‖S‖² = Σ hᵢ·S are compensated sums over the valid rows (exact to a
/// few units of rounding whatever c), h̄·v1 = S·v1 / c, ‖hᵢ − h̄‖² = ‖hᵢ‖² − 2hᵢ·S / c + ‖S‖² / c² (clamped at 0) and
/// cos(h̄, v1) = S·v1 / ‖S‖: the same float64 formulas the device used before, so the values differ from those only
/// by rounding (about 1e-15).
/// </remarks>
internal sealed class AlignmentSummary(int bins)
{
    /// <summary>Values with |SA| at or below this count half positive, half negative.</summary>
    public const double ZeroTolerance = 1e-6;

    private const double FloorSquared = RowAlignment.CenteredFloor * RowAlignment.CenteredFloor;

    private double[] _plain = [];
    private double[] _centered = [];
    private double[] _sorted = [];
    private readonly RangeSort _sort = new();

    /// <summary>The SA of a layer's rows from its result row.</summary>
    /// <param name="row">The layer's results (<see cref="ResultField.RowMaxAbs"/>, <see cref="ResultField.RowNorm"/>,
    /// <see cref="ResultField.RowDotVector"/>, <see cref="ResultField.RowDotSum"/>).</param>
    /// <param name="groups">G.</param>
    /// <param name="capacity">Slots per group (M).</param>
    /// <param name="rows">Rows present in each group.</param>
    /// <param name="vectorDefined">Whether v1 is defined; without it only the row counts are filled in.</param>
    public LayerAlignment Summarize(ResultRow row, int groups, int capacity, long rows, bool vectorDefined) =>
        Summarize(RowValues.Of(row), groups, capacity, rows, vectorDefined);

    /// <summary>The SA of a layer's rows from its row values.</summary>
    /// <param name="values">The layer's values per row slot (from the device or <see cref="HostRows"/>).</param>
    /// <param name="groups">G.</param>
    /// <param name="capacity">Slots per group (M).</param>
    /// <param name="rows">Rows present in each group.</param>
    /// <param name="vectorDefined">Whether v1 is defined; without it only the row counts are filled in.</param>
    public LayerAlignment Summarize(RowValues values, int groups, int capacity, long rows, bool vectorDefined)
    {
        var rowMax = values.RowMax;
        var norm = values.Norm;
        var dotVector = values.DotVector;
        var dotSum = values.DotSum;
        if (_plain.Length < rowMax.Length)
        {
            _plain = new double[rowMax.Length];
            _centered = new double[rowMax.Length];
        }

        int zeroRows = 0, nonFiniteRows = 0, plainCount = 0, centeredCount = 0;
        double maxNorm = 0, maxAbs = 0, meanAlignment = 0;
        for (int g = 0; g < groups; g++)
        {
            int first = g * capacity, end = first + (int)rows, count = 0;
            var sumVector = default(CompensatedSum);
            var sumSquared = default(CompensatedSum);
            for (int slot = first; slot < end; slot++)
            {
                double max = rowMax[slot];
                if (!double.IsFinite(max))
                {
                    nonFiniteRows++;
                }
                else if (max == 0)
                {
                    zeroRows++;
                }
                else
                {
                    count++;
                    sumVector.Add(dotVector[slot]);
                    sumSquared.Add(dotSum[slot]);
                    maxNorm = Math.Max(maxNorm, norm[slot]);
                    maxAbs = Math.Max(maxAbs, max);
                }
            }

            if (!vectorDefined || count == 0)
                continue;
            double meanDot = sumVector.Value / count;                     // h̄·v1
            double sNormSquared = Math.Max(0, sumSquared.Value);         // ‖S‖²
            double meanNormSquared = sNormSquared / count / count;       // ‖h̄‖²
            meanAlignment += sNormSquared > 0 ? Math.Clamp(sumVector.Value / Math.Sqrt(sNormSquared), -1, 1) : 0;
            var group = new GroupRows(rowMax[first..end], norm[first..end], dotVector[first..end], dotSum[first..end], count, meanDot, meanNormSquared);
            int done = Vector256.IsHardwareAccelerated ? AlignFourAtATime(group, ref plainCount, ref centeredCount) : 0;
            for (int slot = first + done; slot < end; slot++)
            {
                double max = rowMax[slot];
                if (!double.IsFinite(max) || max == 0)
                    continue;
                double rowNorm = norm[slot], dot = dotVector[slot];
                double plain = Math.Clamp(dot / rowNorm, -1, 1);
                if (!double.IsNaN(plain))   // NaN: a norm that underflowed (float64 rows below about 1e-154)
                    _plain[plainCount++] = plain;

                double normSquared = rowNorm * rowNorm;
                double centeredSquared = Math.Max(0, normSquared - (2 * dotSum[slot] / count) + meanNormSquared);
                double centered = Math.Clamp((dot - meanDot) / Math.Sqrt(centeredSquared), -1, 1);
                if (centeredSquared > normSquared * FloorSquared && !double.IsNaN(centered))
                    _centered[centeredCount++] = centered;
            }
        }

        var counts = new SpectralAlignmentStats { ZeroRows = zeroRows, NonFiniteRows = nonFiniteRows };
        if (!vectorDefined)
            return new LayerAlignment(counts, counts, counts, 0, maxNorm, maxAbs);

        // A finite row without a value counts as a zero row: rows of norm 0, and in the centred statistics those within
        // the floor of their mean.
        int finite = (int)(groups * rows) - nonFiniteRows;
        return new LayerAlignment(
            counts,
            Statistics(_plain.AsSpan(0, plainCount), finite - plainCount, nonFiniteRows),
            Statistics(_centered.AsSpan(0, centeredCount), finite - centeredCount, nonFiniteRows),
            meanAlignment / groups,
            maxNorm,
            maxAbs);
    }

    /// <summary>
    /// The loop over a group's rows in <see cref="Summarize(RowValues, int, int, long, bool)"/>, four rows per step, for all whole steps: lane by lane
    /// the same float64 operations in the same order (division and square root are correctly rounded in every lane),
    /// the clamp to [−1, 1] as a maximum and a minimum of the non-NaN values, the same NaN and floor tests, and the
    /// kept values appended in row order. So it writes exactly what the scalar loop would.
    /// </summary>
    /// <returns>How many of the group's rows it did (a multiple of four); the scalar loop does the rest.</returns>
    private int AlignFourAtATime(in GroupRows group, ref int plainCount, ref int centeredCount)
    {
        int lanes = Vector256<double>.Count, done = group.RowMax.Length - (group.RowMax.Length % lanes);
        var zero = Vector256<double>.Zero;
        var one = Vector256<double>.One;
        var minusOne = -one;
        var two = Vector256.Create(2.0);
        var count = Vector256.Create((double)group.Count);
        var meanDot = Vector256.Create(group.MeanDot);
        var meanNormSquared = Vector256.Create(group.MeanNormSquared);
        var floorSquared = Vector256.Create(FloorSquared);
        for (int i = 0; i < done; i += lanes)
        {
            var max = Vector256.Create(group.RowMax[i..]);
            var rowNorm = Vector256.Create(group.Norm[i..]);
            var dot = Vector256.Create(group.DotVector[i..]);
            var valid = Vector256.Equals(max - max, zero) & ~Vector256.Equals(max, zero);   // finite and not 0
            var plain = dot / rowNorm;
            var keepPlain = valid & Vector256.Equals(plain, plain);
            plain = Vector256.Min(Vector256.Max(plain, minusOne), one);

            var normSquared = rowNorm * rowNorm;
            var centeredSquared = Vector256.Max(zero, normSquared - (two * Vector256.Create(group.DotSum[i..]) / count) + meanNormSquared);
            var centered = (dot - meanDot) / Vector256.Sqrt(centeredSquared);
            var keepCentered = valid & Vector256.GreaterThan(centeredSquared, normSquared * floorSquared) & Vector256.Equals(centered, centered);
            centered = Vector256.Min(Vector256.Max(centered, minusOne), one);

            plainCount = Append(plain, keepPlain, _plain, plainCount);
            centeredCount = Append(centered, keepCentered, _centered, centeredCount);
        }

        return done;
    }

    /// <summary>Appends the lanes of <paramref name="values"/> that <paramref name="keep"/> selects, in lane order.</summary>
    private static int Append(Vector256<double> values, Vector256<double> keep, double[] target, int at)
    {
        uint bits = keep.ExtractMostSignificantBits();
        if (bits == 0b1111)
        {
            values.CopyTo(target.AsSpan(at));
            return at + 4;
        }

        for (int lane = 0; lane < Vector256<double>.Count; lane++)
        {
            if ((bits & (1u << lane)) != 0)
                target[at++] = values[lane];
        }

        return at;
    }

    /// <summary>The statistics of <paramref name="values"/>.</summary>
    /// <remarks>
    /// <see cref="RangeSort"/> orders the values (in expected linear time, with few unpredictable branches); one pass
    /// over the ascending values then sums them, counts the signs and, from the runs of equal bins, the histogram, and
    /// a second sums the squared deviations. The sums run over the ascending values as before, so every statistic is
    /// the one a full <see cref="Array.Sort(Array)"/> and MathNet's R-7 quantiles give, to the bit.
    /// </remarks>
    private SpectralAlignmentStats Statistics(ReadOnlySpan<double> values, int zeroRows, int nonFiniteRows)
    {
        int count = values.Length;
        var histogram = new int[bins];
        if (count == 0)
            return new SpectralAlignmentStats { ZeroRows = zeroRows, NonFiniteRows = nonFiniteRows, Histogram = histogram };

        if (_sorted.Length < count)
            _sorted = new double[Math.Max(count, _plain.Length)];
        var sorted = _sorted.AsSpan(0, count);
        _sort.Sort(values, sorted);

        // Values above the tolerance count 1, those within ±tolerance one half. The bin of ascending values never
        // decreases: count its runs instead of incrementing memory per value.
        double halfBins = bins / 2.0, sum = 0;
        int aboveZero = 0, nearZero = 0, bin = 0, run = 0;
        foreach (double x in sorted)
        {
            sum += x;
            aboveZero += x > ZeroTolerance ? 1 : 0;
            nearZero += Math.Abs(x) <= ZeroTolerance ? 1 : 0;
            int b = Math.Clamp((int)Math.Floor((x + 1) * halfBins), 0, bins - 1);
            if (b != bin)
            {
                histogram[bin] += run;
                bin = b;
                run = 0;
            }

            run++;
        }

        histogram[bin] += run;
        double mean = sum / count, squares = 0;
        foreach (double x in sorted)
            squares += (x - mean) * (x - mean);

        double fraction = (aboveZero + (0.5 * nearZero)) / count;
        return new SpectralAlignmentStats
        {
            Count = count,
            ZeroRows = zeroRows,
            NonFiniteRows = nonFiniteRows,
            Mean = mean,
            StdDev = Math.Sqrt(squares / count),
            PositiveFraction = fraction,
            SignDiversity = 2 * Math.Min(fraction, 1 - fraction),
            Min = sorted[0],
            P05 = QuantileR7(sorted, 0.05),
            P25 = QuantileR7(sorted, 0.25),
            Median = QuantileR7(sorted, 0.5),
            P75 = QuantileR7(sorted, 0.75),
            P95 = QuantileR7(sorted, 0.95),
            Max = sorted[^1],
            Histogram = histogram,
        };
    }

    /// <summary>The R-7 quantile of ascending <paramref name="sorted"/> values at 0 &lt; <paramref name="tau"/> &lt; 1,
    /// with exactly the arithmetic of MathNet's <c>SortedArrayStatistics.QuantileCustom(data, tau,
    /// QuantileDefinition.R7)</c>: h = (n − 1)τ + 1, then linear interpolation between the order statistics
    /// ⌊h⌋ and ⌊h⌋ + 1 (one-based, clamped to the array).</summary>
    private static double QuantileR7(ReadOnlySpan<double> sorted, double tau)
    {
        if (sorted.Length == 1)
            return sorted[0];
        double h = ((sorted.Length - 1) * tau) + 1d;
        int hf = (int)h;
        double lower = sorted[Math.Max(hf - 1, 0)];
        double upper = sorted[Math.Min(hf, sorted.Length - 1)];
        return lower + ((h - hf) * (upper - lower));
    }

    /// <summary>One group's per-row fields and the group's sums, for <see cref="AlignFourAtATime"/>.</summary>
    private readonly ref struct GroupRows(
        ReadOnlySpan<double> rowMax, ReadOnlySpan<double> norm, ReadOnlySpan<double> dotVector, ReadOnlySpan<double> dotSum,
        int count, double meanDot, double meanNormSquared)
    {
        public readonly ReadOnlySpan<double> RowMax = rowMax;
        public readonly ReadOnlySpan<double> Norm = norm;
        public readonly ReadOnlySpan<double> DotVector = dotVector;
        public readonly ReadOnlySpan<double> DotSum = dotSum;
        public readonly int Count = count;
        public readonly double MeanDot = meanDot;
        public readonly double MeanNormSquared = meanNormSquared;
    }

    /// <summary>A Neumaier-compensated sum.</summary>
    /// <remarks>Each addition's rounding error comes from Knuth's TwoSum, which is exact whatever the magnitudes and has
    /// no branch (the signs and sizes of row dots are unpredictable); Neumaier's branch between two Fast2Sums yields
    /// the same exact error, so the sums are the same to the bit.</remarks>
    private struct CompensatedSum
    {
        private double _sum;
        private double _compensation;

        public readonly double Value => _sum + _compensation;

        public void Add(double x)
        {
            double t = _sum + x;
            double z = t - _sum;
            _compensation += (_sum - (t - z)) + (x - z);
            _sum = t;
        }
    }
}
