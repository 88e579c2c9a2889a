using SpectralAlign.Spectral;

namespace SpectralAlign.Tests.Spectral;

/// <summary><see cref="MatrixKernels"/> against plain sequential float64 loops over the same float32 values, for widths
/// below, at and between multiples of the vector width (the scalar tail and the vector part), several vector counts, a
/// single row, and a hand-computed case.</summary>
public sealed class MatrixKernelsTests
{
    /// <summary>Relative tolerance to the sum of |terms|: the kernels accumulate in float32 (as BLAS does), in another
    /// order, with fused multiply–adds; a float32 sum of up to 200 terms is within about 200 · 2⁻²⁴ ≈ 1.2e-5 of it.</summary>
    private const double Tolerance = 2e-5;

    [Fact]
    public void Products_HandComputedMatrix_ExactValues()
    {
        // W (2 × 3) = [[1, 2, 3], [-1, 0, 4]]; vectors q0 = (1, 0, 0), q1 = (0, 1, 1), q2 = (2, -1, 0.5), q3 = 0.
        float[] w = [1, 2, 3, -1, 0, 4];
        float[] q = [1, 0, 0, 0, 1, 1, 2, -1, 0.5f, 0, 0, 0];
        var y = new float[4 * 2];
        var z = new float[4 * 3];

        MatrixKernels.Times(w, 2, 3, q, 4, y);
        MatrixKernels.TransposeTimes(w, 2, 3, y, 4, z);

        Assert.Equal(new float[] { 1, -1, 5, 4, 1.5f, 0, 0, 0 }, y);   // y[c·m + a] = W[a] · q_c
        // z_c = Wᵀ y_c: z_0 = 1·(1, 2, 3) − 1·(−1, 0, 4) = (2, 2, −1); z_1 = 5·(1, 2, 3) + 4·(−1, 0, 4) = (1, 10, 31);
        // z_2 = 1.5·(1, 2, 3) = (1.5, 3, 4.5).
        Assert.Equal(new float[] { 2, 2, -1, 1, 10, 31, 1.5f, 3, 4.5f, 0, 0, 0 }, z);
    }

    [Theory]
    [InlineData(1, 1, 4)]
    [InlineData(3, 7, 4)]
    [InlineData(5, 8, 4)]
    [InlineData(9, 9, 8)]
    [InlineData(2, 17, 4)]
    [InlineData(64, 64, 4)]
    [InlineData(176, 64, 16)]
    [InlineData(64, 176, 4)]
    public void Products_RandomMatrix_MatchSequentialFloat64Loops(int m, int n, int k)
    {
        var random = new Random((m * 1000) + (n * 10) + k);
        var w = Enumerable.Range(0, m * n).Select(_ => (float)(random.NextDouble() - 0.4)).ToArray();
        var q = Enumerable.Range(0, k * n).Select(_ => (float)(random.NextDouble() - 0.6)).ToArray();
        var y = new float[k * m];
        var z = new float[k * n];

        MatrixKernels.Times(w, m, n, q, k, y);
        MatrixKernels.TransposeTimes(w, m, n, y, k, z);

        for (int c = 0; c < k; c++)
        {
            for (int a = 0; a < m; a++)
            {
                double expected = 0, scale = 0;
                for (int i = 0; i < n; i++)
                {
                    expected += (double)w[(a * n) + i] * q[(c * n) + i];
                    scale += Math.Abs((double)w[(a * n) + i] * q[(c * n) + i]);
                }

                Assert.True(Math.Abs(y[(c * m) + a] - expected) <= Tolerance * scale, $"y[{c}, {a}] = {y[(c * m) + a]}, expected {expected}");
            }

            for (int i = 0; i < n; i++)
            {
                double expected = 0, scale = 0;
                for (int a = 0; a < m; a++)
                {
                    expected += (double)w[(a * n) + i] * y[(c * m) + a];
                    scale += Math.Abs((double)w[(a * n) + i] * y[(c * m) + a]);
                }

                Assert.True(Math.Abs(z[(c * n) + i] - expected) <= Tolerance * scale, $"z[{c}, {i}] = {z[(c * n) + i]}, expected {expected}");
            }
        }
    }

    [Theory]
    [InlineData(3, 4, 4, 11, 16, 12)]   // W too short
    [InlineData(3, 4, 4, 12, 15, 12)]   // the n-long vectors too short
    [InlineData(3, 4, 4, 12, 16, 11)]   // the m-long vectors too short
    [InlineData(3, 4, 3, 12, 12, 9)]    // k not a multiple of the width
    public void Products_SpansThatDoNotHoldTheShapes_Throw(int m, int n, int k, int weights, int nLong, int mLong)
    {
        Assert.Throws<ArgumentException>(() => MatrixKernels.Times(new float[weights], m, n, new float[nLong], k, new float[mLong]));
        Assert.Throws<ArgumentException>(() => MatrixKernels.TransposeTimes(new float[weights], m, n, new float[mLong], k, new float[nLong]));
    }
}
