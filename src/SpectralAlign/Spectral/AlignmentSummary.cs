using MathNet.Numerics.Statistics;

namespace SpectralAlign.Spectral;

/// <summary>
/// The statistics of a layer's SA distribution, on the host, from the per-row values the device sent back
/// (<see cref="RowAlignment"/>): counts of valid, zero and non-finite rows, mean, population standard deviation,
/// sign fractions, R-7 quantiles (MathNet) and the histogram. Works on a reusable buffer.
/// </summary>
internal sealed class AlignmentSummary(int bins)
{
    /// <summary>Values with |SA| at or below this count half positive, half negative.</summary>
    public const double ZeroTolerance = 1e-6;

    private double[] _buffer = [];

    /// <summary>Only the zero and non-finite row counts (for a measurement without a defined v1).</summary>
    public static SpectralAlignmentStats CountsOnly(ReadOnlySpan<double> rowMaxAbs, int groups, int capacity, long rows)
    {
        int zeroRows = 0, nonFiniteRows = 0;
        for (int g = 0; g < groups; g++)
        {
            foreach (double max in rowMaxAbs.Slice(g * capacity, (int)rows))
            {
                if (!double.IsFinite(max))
                    nonFiniteRows++;
                else if (max == 0)
                    zeroRows++;
            }
        }

        return new SpectralAlignmentStats { ZeroRows = zeroRows, NonFiniteRows = nonFiniteRows };
    }

    /// <summary>The largest finite value among the rows' largest |element|s (0 when there is none).</summary>
    public static double MaxFinite(ReadOnlySpan<double> rowMaxAbs, int groups, int capacity, long rows)
    {
        double result = 0;
        for (int g = 0; g < groups; g++)
        {
            foreach (double max in rowMaxAbs.Slice(g * capacity, (int)rows))
            {
                if (double.IsFinite(max) && max > result)
                    result = max;
            }
        }

        return result;
    }

    /// <summary>Summarises the values of the first <paramref name="rows"/> slots of each of <paramref name="groups"/>
    /// groups of <paramref name="capacity"/> slots.</summary>
    /// <param name="values">Per slot: the SA value (NaN excludes a valid row: counted as zero, see
    /// <see cref="RowAlignment.CenteredFloor"/>).</param>
    /// <param name="rowMaxAbs">Per slot: the row's largest |element| (non-finite: a non-finite row; 0: a zero row).</param>
    /// <param name="groups">G.</param>
    /// <param name="capacity">Slots per group (M).</param>
    /// <param name="rows">Rows present in each group.</param>
    public SpectralAlignmentStats Summarize(ReadOnlySpan<double> values, ReadOnlySpan<double> rowMaxAbs, int groups, int capacity, long rows)
    {
        if (_buffer.Length < values.Length)
            _buffer = new double[values.Length];
        int count = 0, zeroRows = 0, nonFiniteRows = 0;
        for (int g = 0; g < groups; g++)
        {
            for (int i = 0; i < rows; i++)
            {
                int slot = (g * capacity) + i;
                double max = rowMaxAbs[slot];
                if (!double.IsFinite(max))
                    nonFiniteRows++;
                else if (max == 0 || double.IsNaN(values[slot]))
                    zeroRows++;
                else
                    _buffer[count++] = values[slot];
            }
        }

        if (count == 0)
            return new SpectralAlignmentStats { ZeroRows = zeroRows, NonFiniteRows = nonFiniteRows, Histogram = new int[bins] };

        var sa = _buffer.AsSpan(0, count);
        double sum = 0, positive = 0;
        var histogram = new int[bins];
        foreach (double x in sa)
        {
            sum += x;
            positive += x > ZeroTolerance ? 1 : Math.Abs(x) <= ZeroTolerance ? 0.5 : 0;
            histogram[Math.Clamp((int)Math.Floor((x + 1) * (bins / 2.0)), 0, bins - 1)]++;
        }

        double mean = sum / count, squares = 0;
        foreach (double x in sa)
            squares += (x - mean) * (x - mean);
        sa.Sort();
        var sorted = _buffer[..count];
        double fraction = positive / count;
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
}
