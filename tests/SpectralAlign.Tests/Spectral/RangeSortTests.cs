using SpectralAlign.Spectral;
using SpectralAlign.Tests.Support;

namespace SpectralAlign.Tests.Spectral;

/// <summary><see cref="RangeSort"/> against <see cref="Array.Sort(Array)"/>, position by position.</summary>
public sealed class RangeSortTests
{
    public static TheoryData<string, int, int> Cases() => SaSamples.Cases();

    /// <summary>Every seeded and degenerate SA set (its ranges: spread, crowded into one range beside an outlier, all
    /// equal, narrower than float64 can scale) comes out in the order Array.Sort gives (−0 and +0 compare equal).</summary>
    [Theory]
    [MemberData(nameof(Cases))]
    public void Sort_SaValues_SameOrderAsArraySort(string kind, int n, int seed)
    {
        var values = SaSamples.Values(kind, n, seed);
        AssertSortsLikeArraySort(new RangeSort(), values);
    }

    /// <summary>Values whose spread overflows float64 (max − min = ∞), large values, and an empty input.</summary>
    [Theory]
    [InlineData(0)]
    [InlineData(40)]
    [InlineData(300)]
    public void Sort_SpreadBeyondFloat64_SameOrderAsArraySort(int n)
    {
        var random = new Random(n);
        var values = Enumerable.Range(0, n).Select(_ => ((random.NextDouble() * 2) - 1) * double.MaxValue).ToArray();
        AssertSortsLikeArraySort(new RangeSort(), values);
    }

    /// <summary>One instance sorts sets of different sizes in turn (its buffers are reused, never shrunk).</summary>
    [Fact]
    public void Sort_ReusedForDifferentSizes_EachSortedLikeArraySort()
    {
        var sort = new RangeSort();
        foreach (int n in (int[])[300, 17, 256, 1, 600, 64])
            AssertSortsLikeArraySort(sort, SaSamples.Values("uniform", n, seed: n));
    }

    private static void AssertSortsLikeArraySort(RangeSort sort, double[] values)
    {
        var before = (double[])values.Clone();
        var expected = (double[])values.Clone();
        Array.Sort(expected);
        var actual = new double[values.Length];

        sort.Sort(values, actual);

        Assert.Equal(before, values);   // the source is left as it was
        for (int i = 0; i < expected.Length; i++)
            Assert.True(expected[i] == actual[i], $"position {i}: expected {expected[i]:R}, actual {actual[i]:R}");
    }
}
