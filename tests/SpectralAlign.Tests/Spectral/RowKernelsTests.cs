using SpectralAlign.Spectral;

namespace SpectralAlign.Tests.Spectral;

/// <summary><see cref="RowKernels"/> against plain sequential float64 loops over the widened values, for lengths below,
/// at and between multiples of the vector width (the scalar tail and the vector part), and a hand-computed case.</summary>
public sealed class RowKernelsTests
{
    /// <summary>Relative tolerance: the kernels sum the same float64 terms in another order.</summary>
    private const double Tolerance = 1e-13;

    [Fact]
    public void Kernels_HandComputedRow_ExactValues()
    {
        float[] row = [3, -4, 0, 1, 2, -2, 0.5f, 0, 1, -1];     // 10 elements: one vector step of 8 and a tail of 2
        double[] a = [1, 1, 1, 1, 1, 1, 1, 1, 1, 1];
        double[] b = [0, 0, 0, 0, 0, 0, 2, 0, 0, 3];

        var (max, squares) = RowKernels.MaxAndSquares(row);
        var (dotA, dotB) = RowKernels.Dots(row, a, b);
        var sum = new double[10];
        RowKernels.Accumulate(sum, row);
        RowKernels.Accumulate(sum, row);

        Assert.Equal(4, max);
        Assert.Equal(9 + 16 + 1 + 4 + 4 + 0.25 + 1 + 1, squares);
        Assert.Equal(3 - 4 + 1 + 2 - 2 + 0.5 + 1 - 1, dotA);
        Assert.Equal(1 - 3, dotB);
        Assert.Equal(row.Select(x => 2.0 * x), sum);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(7)]
    [InlineData(8)]
    [InlineData(9)]
    [InlineData(17)]
    [InlineData(64)]
    [InlineData(176)]
    public void Kernels_Float32Row_MatchSequentialFloat64Loops(int length)
    {
        var random = new Random(length + 1);
        var row = Enumerable.Range(0, length).Select(_ => (float)((random.NextDouble() - 0.3) * Math.Pow(10, random.Next(-30, 30)))).ToArray();
        var wide = row.Select(x => (double)x).ToArray();
        AssertMatchesLoops(wide, RowKernels.MaxAndSquares(row), (a, b) => RowKernels.Dots(row, a, b), sum => RowKernels.Accumulate(sum, row), random);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    [InlineData(13)]
    [InlineData(64)]
    public void Kernels_Float64Row_MatchSequentialFloat64Loops(int length)
    {
        var random = new Random(length + 100);
        var row = Enumerable.Range(0, length).Select(_ => (random.NextDouble() - 0.3) * Math.Pow(10, random.Next(-100, 100))).ToArray();
        AssertMatchesLoops(row, RowKernels.MaxAndSquares(row), (a, b) => RowKernels.Dots(row, a, b), sum => RowKernels.Accumulate(sum, row), random);
    }

    private static void AssertMatchesLoops(double[] row, (double Max, double Squares) maxAndSquares, Func<double[], double[], (double A, double B)> dots, Action<double[]> accumulate, Random random)
    {
        var a = row.Select(_ => random.NextDouble() - 0.5).ToArray();
        var b = row.Select(_ => random.NextDouble() * 3).ToArray();
        double expectedMax = row.Length == 0 ? 0 : row.Max(Math.Abs);
        double expectedSquares = 0, absSquares = 0, expectedA = 0, absA = 0, expectedB = 0, absB = 0;
        foreach (var (x, i) in row.Select((x, i) => (x, i)))
        {
            expectedSquares += x * x;
            expectedA += x * a[i];
            absA += Math.Abs(x * a[i]);
            expectedB += x * b[i];
            absB += Math.Abs(x * b[i]);
        }

        absSquares = expectedSquares;
        var (dotA, dotB) = dots(a, b);
        var start = row.Select(_ => random.NextDouble()).ToArray();
        var sum = (double[])start.Clone();
        accumulate(sum);

        Assert.Equal(expectedMax, maxAndSquares.Max);
        // A reordered sum differs by at most a few ulps of the sum of |terms| per term count.
        Assert.True(Math.Abs(maxAndSquares.Squares - expectedSquares) <= Tolerance * absSquares, $"{maxAndSquares.Squares:R} vs {expectedSquares:R}");
        Assert.True(Math.Abs(dotA - expectedA) <= Tolerance * absA, $"{dotA:R} vs {expectedA:R}");
        Assert.True(Math.Abs(dotB - expectedB) <= Tolerance * absB, $"{dotB:R} vs {expectedB:R}");
        Assert.Equal(start.Zip(row, (s, x) => s + x), sum);
    }
}
