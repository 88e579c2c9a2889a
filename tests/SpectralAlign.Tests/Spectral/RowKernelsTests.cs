using SpectralAlign.Spectral;

namespace SpectralAlign.Tests.Spectral;

/// <summary><see cref="RowKernels"/> against plain sequential float64 loops over the widened values, for lengths below,
/// at and between multiples of the vector width (the scalar tail and the vector part), and a hand-computed case.</summary>
public sealed class RowKernelsTests
{
    /// <summary>Relative tolerance (to the sum of |terms|): the kernels sum the same float64 terms in another order,
    /// with fused multiply–adds.</summary>
    private const double Tolerance = 1e-13;

    [Fact]
    public void Kernels_HandComputedRow_ExactValues()
    {
        float[] row = [3, -4, 0, 1, 2, -2, 0.5f, 0, 1, -1];     // 10 elements: one vector step of 8 and a tail of 2
        double[] ones = [1, 1, 1, 1, 1, 1, 1, 1, 1, 1];
        double[] b = [0, 0, 0, 0, 0, 0, 2, 0, 0, 3];
        var sum = new double[10];

        var (max, squares, dot) = RowKernels.Scan(row, ones, sum);
        RowKernels.Accumulate<float>(sum, row);

        Assert.Equal(4, max);
        Assert.Equal(9 + 16 + 1 + 4 + 4 + 0.25 + 1 + 1, squares);
        Assert.Equal(3 - 4 + 1 + 2 - 2 + 0.5 + 1 - 1, dot);
        Assert.Equal(1 - 3, RowKernels.Dot(row, b));
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
        AssertMatchesLoops(wide, (v, sum) => RowKernels.Scan(row, v, sum), a => RowKernels.Dot(row, a), sum => RowKernels.Accumulate<float>(sum, row), random);
    }

    /// <summary>The vectorised sum of squares against a sequential float64 loop, over vector steps and tails; a
    /// non-finite element makes it non-finite.</summary>
    [Theory]
    [InlineData(0)]
    [InlineData(5)]
    [InlineData(8)]
    [InlineData(21)]
    public void Squares_Float32Row_MatchesSequentialFloat64Loop(int length)
    {
        var random = new Random(length + 3);
        var row = Enumerable.Range(0, length).Select(_ => (float)((random.NextDouble() - 0.5) * 1e20)).ToArray();
        double expected = row.Sum(x => (double)x * x);

        Assert.Equal(expected, RowKernels.Squares(row), Tolerance * (expected + 1e-300));
        if (length > 0)
        {
            row[length - 1] = float.NaN;
            Assert.True(double.IsNaN(RowKernels.Squares(row)));
        }
    }

    /// <summary>The vectorised scaled addition against a sequential float64 loop, over vector steps and tails.</summary>
    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(8)]
    [InlineData(9)]
    [InlineData(100)]
    public void AddScaled_Float32Row_MatchesSequentialFloat64Loop(int length)
    {
        var random = new Random(length + 7);
        var row = Enumerable.Range(0, length).Select(_ => (float)(random.NextDouble() - 0.5)).ToArray();
        var sum = Enumerable.Range(0, length).Select(_ => random.NextDouble()).ToArray();
        var expected = sum.Select((s, i) => s + (-1.75 * row[i])).ToArray();

        RowKernels.AddScaled(sum, row, -1.75);

        for (int i = 0; i < length; i++)
            Assert.Equal(expected[i], sum[i], Tolerance * (Math.Abs(expected[i]) + 2));   // one fused rounding each
    }

    [Fact]
    public void AddScaled_SumShorterThanTheRow_Throws() =>
        Assert.Throws<ArgumentException>(() => RowKernels.AddScaled(new double[8], new float[9], 1));

    /// <summary>The vectorised float32 squared distance against a sequential float64 loop, over vector steps and tails.</summary>
    [Theory]
    [InlineData(0)]
    [InlineData(7)]
    [InlineData(9)]
    [InlineData(100)]
    public void SquaredDistance_Float32_MatchesSequentialFloat64Loop(int length)
    {
        var random = new Random(length + 200);
        var a = Enumerable.Range(0, length).Select(_ => (float)(random.NextDouble() * 2)).ToArray();
        var b = a.Select(x => x + (float)((random.NextDouble() - 0.5) * 1e-3)).ToArray();
        double expected = a.Zip(b, (x, y) => ((double)x - y) * ((double)x - y)).Sum();

        Assert.True(Math.Abs(RowKernels.SquaredDistance(a, b) - expected) <= Tolerance * expected, $"{RowKernels.SquaredDistance(a, b):R} vs {expected:R}");
    }

    [Theory]
    [InlineData(0)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    [InlineData(8)]
    [InlineData(13)]
    [InlineData(64)]
    public void Kernels_Float64Row_MatchSequentialFloat64Loops(int length)
    {
        var random = new Random(length + 100);
        var row = Enumerable.Range(0, length).Select(_ => (random.NextDouble() - 0.3) * Math.Pow(10, random.Next(-100, 100))).ToArray();
        AssertMatchesLoops(row, (v, sum) => RowKernels.Scan(row, v, sum), a => RowKernels.Dot(row, a), sum => RowKernels.Accumulate<double>(sum, row), random);
    }

    private static void AssertMatchesLoops(double[] row, Func<double[], double[], (double Max, double Squares, double Dot)> scan, Func<double[], double> dot, Action<double[]> accumulate, Random random)
    {
        var v = row.Select(_ => random.NextDouble() - 0.5).ToArray();
        var a = row.Select(_ => random.NextDouble() * 3).ToArray();
        var start = row.Select(_ => random.NextDouble()).ToArray();
        double squares = 0, dotV = 0, absV = 0, dotA = 0, absA = 0;
        for (int i = 0; i < row.Length; i++)
        {
            squares += row[i] * row[i];
            dotV += row[i] * v[i];
            absV += Math.Abs(row[i] * v[i]);
            dotA += row[i] * a[i];
            absA += Math.Abs(row[i] * a[i]);
        }

        var scanned = (double[])start.Clone();
        var result = scan(v, scanned);
        var accumulated = (double[])start.Clone();
        accumulate(accumulated);

        Assert.Equal(row.Length == 0 ? 0 : row.Max(Math.Abs), result.Max);
        Assert.True(Math.Abs(result.Squares - squares) <= Tolerance * squares, $"{result.Squares:R} vs {squares:R}");
        Assert.True(Math.Abs(result.Dot - dotV) <= Tolerance * absV, $"{result.Dot:R} vs {dotV:R}");
        Assert.True(Math.Abs(dot(a) - dotA) <= Tolerance * absA, $"{dot(a):R} vs {dotA:R}");
        var other = row.Select(_ => random.NextDouble() - 0.5).ToArray();
        double distance = row.Zip(other, (x, y) => (x - y) * (x - y)).Sum();
        Assert.True(Math.Abs(RowKernels.SquaredDistance<double, double>(row, other, 0, 0) - distance) <= Tolerance * distance);
        var expectedSum = start.Zip(row, (s, x) => s + x).ToArray();
        Assert.Equal(expectedSum, scanned);
        Assert.Equal(expectedSum, accumulated);
    }
}
