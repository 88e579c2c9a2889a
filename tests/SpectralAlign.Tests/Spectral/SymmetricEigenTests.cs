using MathNet.Numerics.LinearAlgebra;
using SpectralAlign.Spectral;

namespace SpectralAlign.Tests.Spectral;

/// <summary><see cref="SymmetricEigen"/> against MathNet.Numerics' symmetric eigendecomposition and against the
/// definition (A v = λ v, orthonormal vectors), on random, repeated-eigenvalue, zero, indefinite and non-finite
/// inputs. Tolerances: 1e-12 of the matrix's norm.</summary>
public sealed class SymmetricEigenTests
{
    [Theory]
    [InlineData(1, 1)]
    [InlineData(2, 2)]
    [InlineData(3, 3)]
    [InlineData(4, 4)]
    [InlineData(4, 5)]
    [InlineData(8, 6)]
    public void Decompose_RandomSymmetric_MatchesMathNetAndTheDefinition(int k, int seed)
    {
        var random = new Random(seed);
        var matrices = new float[3 * k * k];
        for (int m = 0; m < 3; m++)
        {
            for (int i = 0; i < k; i++)
            {
                for (int j = 0; j <= i; j++)
                    matrices[(m * k * k) + (i * k) + j] = matrices[(m * k * k) + (j * k) + i] = (float)((random.NextDouble() - 0.5) * Math.Pow(10, m));
            }
        }

        var (values, vectors) = Decompose(matrices, k);

        for (int m = 0; m < 3; m++)
        {
            var a = Matrix<double>.Build.Dense(k, k, (i, j) => matrices[(m * k * k) + (i * k) + j]);
            var expected = a.Evd(Symmetricity.Symmetric).EigenValues.Select(c => c.Real).Order().ToArray();
            AssertDecomposition(a, values.AsSpan(m * k, k).ToArray(), vectors.AsSpan(m * k * k, k * k).ToArray(), expected);
        }
    }

    [Fact]
    public void Decompose_Float64Input_SameAsTheEqualFloat32Input()
    {
        var random = new Random(9);
        var matrices = new float[2 * 16];
        for (int m = 0; m < 2; m++)
        {
            for (int i = 0; i < 4; i++)
            {
                for (int j = 0; j <= i; j++)
                    matrices[(m * 16) + (i * 4) + j] = matrices[(m * 16) + (j * 4) + i] = (float)(random.NextDouble() - 0.5);
            }
        }

        var (values, vectors) = Decompose(matrices, 4);
        var wideValues = new double[8];
        var wideVectors = new double[32];
        SymmetricEigen.Decompose<double>(matrices.Select(x => (double)x).ToArray(), 4, wideValues, wideVectors);

        Assert.Equal(values, wideValues);
        Assert.Equal(vectors, wideVectors);
    }

    [Fact]
    public void Decompose_RepeatedEigenvalues_ExactValuesAndAnOrthonormalBasis()
    {
        // Q diag(3, 3, 1, -2) Qᵀ with Q a rotation: a repeated eigenvalue and a negative one.
        var q = Matrix<double>.Build.Dense(4, 4, (i, j) => i == j ? 1 : 0);
        var rotation = Matrix<double>.Build.DenseOfArray(new double[,] { { 0.6, -0.8, 0, 0 }, { 0.8, 0.6, 0, 0 }, { 0, 0, 0.8, 0.6 }, { 0, 0, -0.6, 0.8 } });
        q = rotation * Matrix<double>.Build.DenseOfArray(new double[,] { { 1, 0, 0, 0 }, { 0, 0.8, 0.6, 0 }, { 0, -0.6, 0.8, 0 }, { 0, 0, 0, 1 } });
        var a = q * Matrix<double>.Build.DenseOfDiagonalArray([3, 3, 1, -2]) * q.Transpose();
        var matrix = Enumerable.Range(0, 16).Select(x => (float)a[x / 4, x % 4]).ToArray();

        var (values, vectors) = Decompose(matrix, 4);

        var asFloat = Matrix<double>.Build.Dense(4, 4, (i, j) => matrix[(i * 4) + j]);
        AssertDecomposition(asFloat, values, vectors, [-2, 1, 3, 3], valueTolerance: 1e-6);   // float32 input
    }

    [Fact]
    public void Decompose_ZeroMatrix_ZeroValuesAndTheIdentityInDescendingOrder()
    {
        var (values, vectors) = Decompose(new float[9], 3);

        Assert.Equal(new double[3], values);
        // Equal values keep their index order ascending, so descending column c is unit vector 2 − c (what LAPACK's
        // identity, flipped, gives).
        Assert.Equal(new double[] { 0, 0, 1, 0, 1, 0, 1, 0, 0 }, vectors);
    }

    [Fact]
    public void Decompose_UpperTriangleAndNonFiniteEntries_LowerTriangleReadWithNonFiniteAsZero()
    {
        float[] lower = [2, float.NaN, float.NegativeInfinity, 1, 3, 7, 0.5f, float.PositiveInfinity, 4];   // upper: garbage
        float[] clean = [2, 1, 0.5f, 1, 3, 0, 0.5f, 0, 4];

        var (values, vectors) = Decompose(lower, 3);
        var (expectedValues, expectedVectors) = Decompose(clean, 3);

        Assert.Equal(expectedValues, values);
        Assert.Equal(expectedVectors, vectors);
        AssertDecomposition(Matrix<double>.Build.Dense(3, 3, (i, j) => clean[(i * 3) + j]), values, vectors,
            Matrix<double>.Build.Dense(3, 3, (i, j) => clean[(i * 3) + j]).Evd(Symmetricity.Symmetric).EigenValues.Select(c => c.Real).Order().ToArray());
    }

    private static (double[] Values, double[] Vectors) Decompose(float[] matrices, int k)
    {
        var values = new double[matrices.Length / k];
        var vectors = new double[matrices.Length];
        SymmetricEigen.Decompose(matrices, k, values, vectors);
        return (values, vectors);
    }

    /// <summary>Ascending values equal to <paramref name="expected"/>; column c of the row-major vectors is a unit
    /// eigenvector of the c-th largest value, orthogonal to the others.</summary>
    private static void AssertDecomposition(Matrix<double> a, double[] values, double[] vectors, double[] expected, double valueTolerance = 1e-12)
    {
        int k = a.RowCount;
        double norm = Math.Max(a.FrobeniusNorm(), 1e-300);
        for (int i = 0; i < k; i++)
            Assert.True(Math.Abs(values[i] - expected[i]) <= valueTolerance * norm, $"λ{i}: {values[i]:R} vs {expected[i]:R}");
        var v = Matrix<double>.Build.Dense(k, k, (i, j) => vectors[(i * k) + j]);
        for (int c = 0; c < k; c++)
        {
            double lambda = values[k - 1 - c];
            var residual = (a * v.Column(c)) - (lambda * v.Column(c));
            Assert.True(residual.L2Norm() <= 1e-12 * norm, $"‖A v − λ v‖ of column {c}: {residual.L2Norm():R}");
        }

        var identity = v.TransposeThisAndMultiply(v) - Matrix<double>.Build.DenseIdentity(k);
        Assert.True(identity.FrobeniusNorm() <= 1e-13, $"‖VᵀV − I‖ = {identity.FrobeniusNorm():R}");
    }
}
