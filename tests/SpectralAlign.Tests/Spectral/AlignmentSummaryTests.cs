using MathNet.Numerics.Statistics;
using SpectralAlign.Spectral;
using SpectralAlign.Tests.Support;

namespace SpectralAlign.Tests.Spectral;

/// <summary>
/// The SA statistics of <see cref="AlignmentSummary"/> against a full sort: rows of norm 1 whose dot with v1 is the
/// wanted SA value (cos = dot / 1 exactly), so the plain distribution is exactly the given values.
/// </summary>
public sealed class AlignmentSummaryTests
{
    private const int Bins = EngineHarness.Bins;

    public static TheoryData<string, int, int> Cases() => SaSamples.Cases();

    /// <summary>Every statistic equals, with tolerance 0, the reference that sorts the whole array (Array.Sort), sums
    /// the mean and the squared deviations over the ascending values, counts signs and bins value by value and takes
    /// MathNet's R-7 quantiles of the sorted array (−0 and +0 count as equal: a sort may order them either way); and
    /// it matches the MathNet statistics of <see cref="Reference.Stats"/> to 1e-12.</summary>
    [Theory]
    [MemberData(nameof(Cases))]
    public void Summarize_SaValues_StatisticsEqualFullSortReference(string kind, int n, int seed)
    {
        var values = SaSamples.Values(kind, n, seed);
        var summary = new AlignmentSummary(Bins);
        _ = Summarize(summary, SaSamples.Values("uniform", 300, seed));   // buffers left larger and full of other values

        var stats = Summarize(summary, values);

        var expected = FullSort(values);
        Assert.Equal((n, 0, 0), (stats.Count, stats.ZeroRows, stats.NonFiniteRows));
        AssertSame(expected.Mean, stats.Mean, nameof(stats.Mean));
        AssertSame(expected.StdDev, stats.StdDev, nameof(stats.StdDev));
        AssertSame(expected.PositiveFraction, stats.PositiveFraction, nameof(stats.PositiveFraction));
        AssertSame(expected.SignDiversity, stats.SignDiversity, nameof(stats.SignDiversity));
        AssertSame(expected.Min, stats.Min, nameof(stats.Min));
        AssertSame(expected.P05, stats.P05, nameof(stats.P05));
        AssertSame(expected.P25, stats.P25, nameof(stats.P25));
        AssertSame(expected.Median, stats.Median, nameof(stats.Median));
        AssertSame(expected.P75, stats.P75, nameof(stats.P75));
        AssertSame(expected.P95, stats.P95, nameof(stats.P95));
        AssertSame(expected.Max, stats.Max, nameof(stats.Max));
        Assert.Equal(expected.Histogram, stats.Histogram);
        Reference.AssertMatches(Reference.Stats(values, Bins), stats, 1e-12);
    }

    /// <summary>Two groups of random rows with a NaN row, a zero row and (group 1) all valid rows equal, for group
    /// sizes that fill whole steps of four rows, leave a remainder, or are below four, with the special rows in
    /// different lanes: the plain and centred statistics match the direct float64 computation from the rows (explicit
    /// mean, <see cref="EngineHarness.CenteredAlignments"/>) to 1e-12, and the row counts exactly.</summary>
    [Theory]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(7)]
    [InlineData(13)]
    [InlineData(64)]
    public void Summarize_RandomRowsWithSpecialRows_MatchesDirectComputation(int rowsPerGroup)
    {
        const int width = 5;
        int capacity = rowsPerGroup + 2;
        var random = new Random(rowsPerGroup);
        var layout = new ResultLayout(2 * capacity);
        var fields = new double[layout.Width];
        var expectedPlain = new List<double>();
        var expectedCentered = new List<double>();
        int zeroRows = 0, nonFiniteRows = 0;
        for (int g = 0; g < 2; g++)
        {
            var v = Enumerable.Range(0, width).Select(_ => random.NextDouble() - 0.5).ToArray();
            v = [.. v.Select(x => x / Reference.Norm(v))];   // v1 is a unit vector
            var same = Enumerable.Range(0, width).Select(_ => random.NextDouble() - 0.3).ToArray();
            var rows = Enumerable.Range(0, rowsPerGroup).Select(i =>
                i == (g + 1) % rowsPerGroup ? [double.NaN, .. new double[width - 1]]
                : i == (g + 2) % rowsPerGroup ? new double[width]
                : g == 1 ? same
                : Enumerable.Range(0, width).Select(_ => random.NextDouble() - 0.3).ToArray()).ToArray();
            var valid = rows.Where(r => r.All(double.IsFinite) && Reference.Norm(r) > 0).ToArray();
            var sum = Enumerable.Range(0, width).Select(k => valid.Sum(r => r[k])).ToArray();
            nonFiniteRows += rows.Count(r => !r.All(double.IsFinite));
            zeroRows += rows.Count(r => r.All(x => x == 0));
            for (int i = 0; i < rowsPerGroup; i++)
            {
                var r = rows[i];
                int slot = (g * capacity) + i;
                var zeroed = r.Select(x => double.IsFinite(x) ? x : 0).ToArray();
                fields[layout.Offset(ResultField.RowMaxAbs) + slot] = r.Any(double.IsNaN) ? double.NaN : r.Max(Math.Abs);
                fields[layout.Offset(ResultField.RowNorm) + slot] = Reference.Norm(zeroed);
                fields[layout.Offset(ResultField.RowDotVector) + slot] = Reference.Dot(zeroed, v);
                fields[layout.Offset(ResultField.RowDotSum) + slot] = Reference.Dot(zeroed, sum);
            }

            expectedPlain.AddRange(Reference.Alignments(valid, v));
            expectedCentered.AddRange(EngineHarness.CenteredAlignments(valid, v));
        }

        var result = new AlignmentSummary(Bins).Summarize(layout.Row(fields, 0, 0), 2, capacity, rowsPerGroup, vectorDefined: true);

        int finite = (2 * rowsPerGroup) - nonFiniteRows;
        Assert.Equal((expectedPlain.Count, finite - expectedPlain.Count, nonFiniteRows), (result.Stats.Count, result.Stats.ZeroRows, result.Stats.NonFiniteRows));
        Assert.Equal((expectedCentered.Count, finite - expectedCentered.Count), (result.CenteredStats.Count, result.CenteredStats.ZeroRows));
        Assert.Equal(rowsPerGroup > 3 ? rowsPerGroup - 2 : 0, expectedCentered.Count);   // only group 0's (group 1's equal their mean)
        Assert.Equal((zeroRows, nonFiniteRows), (result.Counts.ZeroRows, result.Counts.NonFiniteRows));
        Reference.AssertMatches(Reference.Stats([.. expectedPlain], Bins), result.Stats, 1e-12);
        if (expectedCentered.Count > 0)
            Reference.AssertMatches(Reference.Stats([.. expectedCentered], Bins), result.CenteredStats, 1e-12);
    }

    /// <summary>Rows of a positive |element| whose norm underflowed to 0 (float64 rows below about 1e-154), in each lane
    /// of a step of four and in the remainder: with hᵢ·v1 = 0 the cosine 0/0 is NaN and the row counts as a zero row;
    /// with hᵢ·v1 = ±1e-300 it is ±∞, clamped to ±1 and kept.</summary>
    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(8)]
    public void Summarize_UnderflowedNorms_NaNLeftOutInfinityClamped(int position)
    {
        const int n = 9;
        var layout = new ResultLayout(n);
        var fields = new double[layout.Width];
        for (int i = 0; i < n; i++)
        {
            fields[layout.Offset(ResultField.RowMaxAbs) + i] = 1;
            fields[layout.Offset(ResultField.RowNorm) + i] = 1;
            fields[layout.Offset(ResultField.RowDotVector) + i] = (i - 4) / 8.0;
            fields[layout.Offset(ResultField.RowDotSum) + i] = (i - 4) / 8.0;
        }

        void Underflowed(int slot, double dot)
        {
            fields[layout.Offset(ResultField.RowMaxAbs) + slot] = 1e-200;
            fields[layout.Offset(ResultField.RowNorm) + slot] = 0;
            fields[layout.Offset(ResultField.RowDotVector) + slot] = dot;
        }

        Underflowed(position, 0);
        Underflowed((position + 1) % n, 1e-300);
        Underflowed((position + 2) % n, -1e-300);

        var stats = new AlignmentSummary(Bins).Summarize(layout.Row(fields, 0, 0), 1, n, n, vectorDefined: true).Stats;

        Assert.Equal((n - 1, 1, 0), (stats.Count, stats.ZeroRows, stats.NonFiniteRows));
        Assert.Equal((-1.0, 1.0), (stats.Min, stats.Max));
    }

    /// <summary>The plain statistics of one group of rows of norm 1 with hᵢ·v1 = <paramref name="values"/>[i].</summary>
    private static SpectralAlignmentStats Summarize(AlignmentSummary summary, double[] values)
    {
        int n = values.Length;
        var layout = new ResultLayout(n);
        var row = new double[layout.Width];
        for (int i = 0; i < n; i++)
        {
            row[layout.Offset(ResultField.RowMaxAbs) + i] = 1;
            row[layout.Offset(ResultField.RowNorm) + i] = 1;
            row[layout.Offset(ResultField.RowDotVector) + i] = values[i];
            row[layout.Offset(ResultField.RowDotSum) + i] = values[i] * n;
        }

        return summary.Summarize(layout.Row(row, 0, 0), 1, n, n, vectorDefined: true).Stats;
    }

    private static ReferenceStats FullSort(double[] values)
    {
        var sorted = (double[])values.Clone();
        Array.Sort(sorted);
        double sum = 0;
        foreach (double x in sorted)
            sum += x;
        double mean = sum / sorted.Length, squares = 0;
        foreach (double x in sorted)
            squares += (x - mean) * (x - mean);
        var histogram = new int[Bins];
        foreach (double x in values)
            histogram[Math.Clamp((int)Math.Floor((x + 1) * (Bins / 2.0)), 0, Bins - 1)]++;
        int above = values.Count(x => x > 1e-6), near = values.Count(x => x >= -1e-6 && x <= 1e-6);
        double fraction = (above + (0.5 * near)) / values.Length;
        double Quantile(double tau) => SortedArrayStatistics.QuantileCustom(sorted, tau, QuantileDefinition.R7);
        return new ReferenceStats(
            sorted.Length, mean, Math.Sqrt(squares / sorted.Length), fraction, 2 * Math.Min(fraction, 1 - fraction),
            sorted[0], Quantile(0.05), Quantile(0.25), Quantile(0.5), Quantile(0.75), Quantile(0.95), sorted[^1], histogram);
    }

    private static void AssertSame(double expected, double actual, string field) =>
        Assert.True(expected == actual, $"{field}: expected {expected:R}, actual {actual:R}");
}
