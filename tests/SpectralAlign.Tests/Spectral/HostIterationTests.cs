using SpectralAlign.Spectral;
using SpectralAlign.Tests.Support;
using static TorchSharp.torch;

namespace SpectralAlign.Tests.Spectral;

/// <summary><see cref="HostIteration"/> against the batched device path (<see cref="SubspaceIteration"/> with LAPACK's
/// QR and eigh) on the same inputs, against a float64 SVD once converged, and on degenerate units (zero, non-finite,
/// rank-deficient weights), whose results must stay inside their own unit.</summary>
[Collection(TorchCollection.Name)]
public sealed class HostIterationTests
{
    /// <summary>Host against device: both iterate in float32 products, so they agree to float32 rounding amplified by
    /// a few iterations (absolute, on unit vectors and on values of order 1).</summary>
    private const double PathTolerance = 1e-4;

    [Theory]
    [InlineData(8, 1)]
    [InlineData(8, 2)]
    [InlineData(17, 4)]
    [InlineData(9, 5)]     // k padded to 8 for the products
    [InlineData(3, 3)]     // k = n
    [InlineData(64, 4)]
    public void Run_RandomRunsCountsAndReferences_MatchesTheDevicePath(int n, int k)
    {
        using var scope = NewDisposeScope();
        var runs = new WeightRuns(Layers.Randn([3, 6, n], ScalarType.Float32, seed: n), Layers.Randn([2, 11, n], ScalarType.Float32, seed: n + 1));
        var basis = linalg.qr(Layers.Randn([5, n, k], ScalarType.Float32, seed: n + 2)).Q.contiguous();
        int[] counts = [0, 1, 3, 2, 5];
        bool[] hasReference = [true, false, true, true, false];
        var reference = Layers.Randn([5, n], ScalarType.Float32, seed: n + 3);
        var referenceMask = tensor(hasReference);

        var host = HostIteration.Run(runs, basis, counts, reference, hasReference).ToRitz();
        var device = SubspaceIteration.RayleighRitz(runs, SubspaceIteration.Iterate(runs, basis, counts), reference, referenceMask);

        AssertClose(device.V, host.V);
        AssertClose(device.Sigma1, host.Sigma1);
        AssertClose(device.Sigma2, host.Sigma2);
        AssertClose(device.Residual, host.Residual);
        for (int r = 0; r < 2; r++)
            AssertClose(device.U[r], host.U[r]);
        // The other Ritz vectors: equal up to their sign (no rule fixes it; only their span is used).
        for (int c = 1; c < k; c++)
        {
            var dot = (device.Basis.select(2, c) * host.Basis.select(2, c)).sum(1).sign().unsqueeze(1);
            AssertClose(device.Basis.select(2, c), host.Basis.select(2, c) * dot);
        }
    }

    [Theory]
    [InlineData(12, 8, 4)]
    [InlineData(5, 20, 4)]
    [InlineData(30, 16, 1)]
    public void Run_GappedWeightIteratedToConvergence_MatchesTheSvd(int m, int n, int k)
    {
        using var scope = NewDisposeScope();
        var weight = EngineHarness.GappedWeight(1, m, n, ScalarType.Float32, seed: m + n);
        var runs = new WeightRuns(weight);
        var basis = linalg.qr(Layers.Randn([1, n, k], ScalarType.Float32, seed: 7)).Q.contiguous();

        var ritz = HostIteration.Run(runs, basis, [40], reference: null, hasReference: null).ToRitz();

        var (v1, singular) = Reference.Svd(weight[0]);
        int largest = Enumerable.Range(0, n).MaxBy(i => Math.Abs(v1[i]));
        double sign = v1[largest] < 0 ? -1 : 1;                       // the cold rule: largest component positive
        var v = Reference.ToDoubles(ritz.V[0]);
        for (int i = 0; i < n; i++)
            Assert.Equal(sign * v1[i], v[i], 1e-5);
        Assert.Equal(singular[0], ritz.Sigma1[0].item<float>(), singular[0] * 1e-5);
        Assert.Equal(k > 1 ? singular[1] : 0, ritz.Sigma2[0].item<float>(), singular[0] * 1e-4);
        Assert.True(ritz.Residual[0].item<float>() < 1e-5, $"residual {ritz.Residual[0].item<float>()}");
        // u1 = W v1 / σ1, the SVD's left vector with the same sign as v1.
        var expectedU = weight[0].to(ScalarType.Float64).matmul(tensor(v1.Select(x => sign * x).ToArray())) / singular[0];
        AssertClose(expectedU, ritz.U[0][0].to(ScalarType.Float64), 1e-5);
    }

    [Fact]
    public void Run_ZeroNonFiniteAndRandomUnitsInOneRun_EachResultStaysInItsUnit()
    {
        using var scope = NewDisposeScope();
        const int n = 10, m = 7, k = 4;
        var random = Layers.Randn([1, m, n], ScalarType.Float32, seed: 11);
        var poisoned = Layers.Randn([1, m, n], ScalarType.Float32, seed: 12);
        poisoned[0, 3, 4] = tensor(float.NaN);
        var runs = new WeightRuns(cat([zeros(1, m, n), poisoned, random], 0));
        var basis = linalg.qr(Layers.Randn([3, n, k], ScalarType.Float32, seed: 13)).Q.contiguous();

        var result = HostIteration.Run(runs, basis, [3, 3, 3], reference: null, hasReference: null);
        var ritz = result.ToRitz();
        var alone = HostIteration.Run(new WeightRuns(random), basis.narrow(0, 2, 1).contiguous(), [3], reference: null, hasReference: null).ToRitz();

        // Zero weight: σ = 0, residual 0, u1 = 0, a finite orthonormal basis.
        Assert.Equal(0f, ritz.Sigma1[0].item<float>());
        Assert.Equal(0f, ritz.Residual[0].item<float>());
        Assert.Equal(0f, ritz.U[0][0].abs().max().item<float>());
        AssertOrthonormal(ritz.Basis[0]);
        // Non-finite weight: its v1 is not finite (what the engine flags); nothing thrown.
        Assert.False(ritz.V[1].isfinite().all().item<bool>());
        Assert.Equal(new[] { true, false, true }, result.VectorFinite);
        // The random unit: bit for bit what it gives alone.
        Assert.Equal(Reference.ToDoubles(alone.Basis[0].flatten()), Reference.ToDoubles(ritz.Basis[2].flatten()));
        Assert.Equal(alone.Sigma1[0].item<float>(), ritz.Sigma1[2].item<float>());
        Assert.Equal(alone.Residual[0].item<float>(), ritz.Residual[2].item<float>());
        Assert.Equal(Reference.ToDoubles(alone.U[0][0]), Reference.ToDoubles(ritz.U[0][2]));
    }

    [Fact]
    public void Run_RankOneWeight_ExactTopPairZeroRestAndAnOrthonormalBasis()
    {
        using var scope = NewDisposeScope();
        // W = a bᵀ with ‖a‖ = 3, ‖b‖ = 2 (exact in float32): σ1 = 6, v1 = ±b/2, the other singular values 0.
        float[] a = [1, 2, 2];
        float[] b = [0, 2, 0, 0, 0];
        var weight = tensor(a, [3, 1]).matmul(tensor(b, [1, 5])).unsqueeze(0);
        var basis = linalg.qr(Layers.Randn([1, 5, 4], ScalarType.Float32, seed: 21)).Q.contiguous();

        var ritz = HostIteration.Run(new WeightRuns(weight), basis, [2], reference: null, hasReference: null).ToRitz();

        Assert.Equal(6.0, ritz.Sigma1[0].item<float>(), 1e-5);
        Assert.Equal(0.0, ritz.Sigma2[0].item<float>(), 1e-3);
        AssertClose(tensor(new double[] { 0, 1, 0, 0, 0 }), ritz.V[0], 1e-6);                 // the cold rule: +b/2
        AssertClose(tensor(new double[] { 1 / 3.0, 2 / 3.0, 2 / 3.0 }), ritz.U[0][0], 1e-6);   // W v1 / σ1 = a/3
        AssertOrthonormal(ritz.Basis[0]);
    }

    [Fact]
    public void Run_Reference_V1AgreesWithIt()
    {
        using var scope = NewDisposeScope();
        var weight = EngineHarness.GappedWeight(1, 9, 6, ScalarType.Float32, seed: 31);
        var runs = new WeightRuns(weight);
        var basis = linalg.qr(Layers.Randn([1, 6, 4], ScalarType.Float32, seed: 32)).Q.contiguous();
        var cold = HostIteration.Run(runs, basis, [5], reference: null, hasReference: null).ToRitz();

        var same = HostIteration.Run(runs, basis, [5], reference: cold.V, hasReference: null).ToRitz();
        var warm = HostIteration.Run(runs, basis, [5], reference: cold.V.neg(), hasReference: null).ToRitz();
        var unmarked = HostIteration.Run(runs, basis, [5], reference: cold.V.neg(), hasReference: [false]).ToRitz();

        AssertClose(cold.V, same.V, 0);
        AssertClose(cold.V.neg(), warm.V, 0);
        AssertClose(cold.U[0].neg(), warm.U[0], 0);
        AssertClose(cold.V, unmarked.V, 0);   // no reference for this unit: the cold rule
    }

    [Fact]
    public void Frobenius_RunsWithFiniteZeroAndNonFiniteUnits_MatchesFloat64Norms()
    {
        using var scope = NewDisposeScope();
        var first = Layers.Randn([2, 5, 9], ScalarType.Float32, seed: 41) * 1e3;
        var second = cat([zeros(1, 3, 9), Layers.Randn([1, 3, 9], ScalarType.Float32, seed: 42), full([1, 3, 9], 2f)], 0);
        second[1, 2, 8] = tensor(float.PositiveInfinity);

        var norms = HostIteration.Frobenius(new WeightRuns(first, second));

        Assert.Equal(5, norms.Length);
        for (int u = 0; u < 2; u++)
            Assert.Equal(first[u].to(ScalarType.Float64).norm().item<double>(), norms[u], 1e-9 * norms[u]);
        Assert.Equal(0, norms[2]);
        Assert.Equal(double.PositiveInfinity, norms[3]);
        Assert.Equal(Math.Sqrt(27 * 4.0), norms[4], 1e-12);   // 27 entries of 2
    }

    [Fact]
    public void CanRun_UnitSizes_TakesSmallUnitsOnly()
    {
        using var scope = NewDisposeScope();
        Assert.True(HostIteration.CanRun(new WeightRuns(zeros(2, 256, 256))));                      // 65,536 entries
        Assert.False(HostIteration.CanRun(new WeightRuns(zeros(2, 256, 256), zeros(1, 257, 256))));  // one unit above
        // A run must fit one host span (int.MaxValue bytes): 8,191 units of 256 × 256 float32 do, 8,192 do not
        // (expanded views: the shapes without the memory).
        Assert.True(HostIteration.CanRun(new WeightRuns(zeros(1, 256, 256).expand(8191, 256, 256))));
        Assert.False(HostIteration.CanRun(new WeightRuns(zeros(1, 256, 256).expand(8192, 256, 256))));
    }

    private static void AssertOrthonormal(Tensor basis)
    {
        var gram = basis.t().matmul(basis).to(ScalarType.Float64);
        AssertClose(eye(basis.shape[1], dtype: ScalarType.Float64), gram, 1e-6);
    }

    private static void AssertClose(Tensor expected, Tensor actual, double tolerance = PathTolerance)
    {
        Assert.Equal(expected.shape, actual.shape);
        double difference = (expected.to(ScalarType.Float64) - actual.to(ScalarType.Float64)).abs().max().item<double>();
        Assert.True(difference <= tolerance, $"max |difference| {difference:e2} > {tolerance:e0}");
    }
}
