using MathNet.Numerics.Statistics;

namespace SpectralAlign.Spectral;

/// <summary>
/// The host side of <see cref="RowAlignment"/>: from a layer's per-row values the device sent back (largest
/// |element|, ‖hᵢ‖, hᵢ·v1, hᵢ·S), each valid row's SA = cos(hᵢ, v1) and centred SA = cos(hᵢ − h̄, v1), the
/// input-mean alignment, the largest row norm and |element|, and the statistics of both SA distributions: counts of
/// valid, zero and non-finite rows, mean, population standard deviation, sign fractions, R-7 quantiles (MathNet) and
/// the histogram. Works on reusable buffers.
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
    private double[] _sorted = [];   // exactly as long as the last distribution (MathNet reads the whole array)

    /// <summary>The SA of a layer's rows from its result row.</summary>
    /// <param name="row">The layer's results (<see cref="ResultField.RowMaxAbs"/>, <see cref="ResultField.RowNorm"/>,
    /// <see cref="ResultField.RowDotVector"/>, <see cref="ResultField.RowDotSum"/>).</param>
    /// <param name="groups">G.</param>
    /// <param name="capacity">Slots per group (M).</param>
    /// <param name="rows">Rows present in each group.</param>
    /// <param name="vectorDefined">Whether v1 is defined; without it only the row counts are filled in.</param>
    public LayerAlignment Summarize(ResultRow row, int groups, int capacity, long rows, bool vectorDefined)
    {
        var rowMax = row.Span(ResultField.RowMaxAbs);
        var norm = row.Span(ResultField.RowNorm);
        var dotVector = row.Span(ResultField.RowDotVector);
        var dotSum = row.Span(ResultField.RowDotSum);
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
            for (int slot = first; slot < end; slot++)
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

    /// <summary>The statistics of <paramref name="values"/>.</summary>
    private SpectralAlignmentStats Statistics(ReadOnlySpan<double> values, int zeroRows, int nonFiniteRows)
    {
        int count = values.Length;
        if (count == 0)
            return new SpectralAlignmentStats { ZeroRows = zeroRows, NonFiniteRows = nonFiniteRows, Histogram = new int[bins] };

        if (_sorted.Length != count)
            _sorted = new double[count];
        var sorted = _sorted;
        values.CopyTo(sorted);
        Array.Sort(sorted);
        double sum = 0;
        var histogram = new int[bins];
        foreach (double x in sorted)
        {
            sum += x;
            histogram[Math.Clamp((int)Math.Floor((x + 1) * (bins / 2.0)), 0, bins - 1)]++;
        }

        double mean = sum / count, squares = 0;
        foreach (double x in sorted)
            squares += (x - mean) * (x - mean);

        // Values above the tolerance count 1, those within ±tolerance one half (found in the sorted values).
        int aboveZero = count - CountAtMost(sorted, ZeroTolerance);
        int nearZero = count - aboveZero - CountAtMost(sorted, Math.BitDecrement(-ZeroTolerance));
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
            P05 = SortedArrayStatistics.QuantileCustom(sorted, 0.05, QuantileDefinition.R7),
            P25 = SortedArrayStatistics.QuantileCustom(sorted, 0.25, QuantileDefinition.R7),
            Median = SortedArrayStatistics.QuantileCustom(sorted, 0.5, QuantileDefinition.R7),
            P75 = SortedArrayStatistics.QuantileCustom(sorted, 0.75, QuantileDefinition.R7),
            P95 = SortedArrayStatistics.QuantileCustom(sorted, 0.95, QuantileDefinition.R7),
            Max = sorted[^1],
            Histogram = histogram,
        };
    }

    /// <summary>How many values of <paramref name="sorted"/> are ≤ <paramref name="x"/> (a binary search).</summary>
    private static int CountAtMost(double[] sorted, double x)
    {
        int low = 0, high = sorted.Length;
        while (low < high)
        {
            int middle = (low + high) >>> 1;
            if (sorted[middle] <= x) low = middle + 1;
            else high = middle;
        }

        return low;
    }

    /// <summary>A Neumaier-compensated sum.</summary>
    private struct CompensatedSum
    {
        private double _sum;
        private double _compensation;

        public readonly double Value => _sum + _compensation;

        public void Add(double x)
        {
            double t = _sum + x;
            _compensation += Math.Abs(_sum) >= Math.Abs(x) ? (_sum - t) + x : (x - t) + _sum;
            _sum = t;
        }
    }
}
