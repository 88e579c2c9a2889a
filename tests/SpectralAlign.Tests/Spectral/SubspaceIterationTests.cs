using SpectralAlign.Spectral;
using SpectralAlign.Tests.Support;
using static TorchSharp.torch;

namespace SpectralAlign.Tests.Spectral;

/// <summary>The batched building blocks of the iteration against per-unit references: products over runs of weights
/// of different output widths, per-unit iteration counts, and the engine's use of each layer's own count.</summary>
[Collection(TorchCollection.Name)]
public sealed class SubspaceIterationTests
{
    [Fact]
    public void WeightRuns_ProductsPartsAndNarrow_MatchEachUnitsOwnProducts()
    {
        using var scope = NewDisposeScope();
        // Two runs (m = 5 and 9) over n = 7; Q (5 units, n, k = 2).
        var first = Layers.Randn([3, 5, 7], ScalarType.Float32, seed: 1);
        var second = Layers.Randn([2, 9, 7], ScalarType.Float32, seed: 2);
        var q = Layers.Randn([5, 7, 2], ScalarType.Float32, seed: 3);
        var runs = new WeightRuns(first, second);
        var units = Enumerable.Range(0, 3).Select(u => first[u]).Concat(Enumerable.Range(0, 2).Select(u => second[u])).ToArray();

        var omega = Layers.Randn([7, 3], ScalarType.Float32, seed: 4);
        var times = runs.Times(q);
        var back = runs.TransposeTimes(times);
        var shared = runs.SharedTimes(omega.t());
        var parts = runs.Parts(q);
        var part = runs.Narrow(2, 2);                                   // the last unit of the first run, the first of the second
        var partTimes = part.Times(q.narrow(0, 2, 2));

        Assert.Equal(5, runs.Units);
        Assert.Equal(5 * 7 + 9 * 7, runs.Size(2, 2));
        Assert.Equal(5 * 7 + 9 * 7, part.Size(0, 2));
        Assert.Equal(new[] { new long[] { 3, 2, 5 }, [2, 2, 9] }, times.Select(t => t.shape).ToArray());
        Assert.Equal(new[] { new long[] { 3, 3, 5 }, [2, 3, 9] }, shared.Select(t => t.shape).ToArray());
        Assert.Equal(new[] { new long[] { 1, 5, 7 }, [1, 9, 7] }, part.Runs.Select(t => t.shape).ToArray());
        for (int u = 0; u < 5; u++)
        {
            var w = units[u].to(ScalarType.Float64);
            var wq = w.matmul(q[u].to(ScalarType.Float64));                     // (m, k)
            var ours = (u < 3 ? times[0][u] : times[1][u - 3]).to(ScalarType.Float64).t();
            AssertClose(wq, ours);
            AssertClose(w.t().matmul(wq), back[u].to(ScalarType.Float64));
            AssertClose(w.matmul(omega.to(ScalarType.Float64)), (u < 3 ? shared[0][u] : shared[1][u - 3]).to(ScalarType.Float64).t());
            AssertClose(q[u].to(ScalarType.Float64), (u < 3 ? parts[0][u] : parts[1][u - 3]).to(ScalarType.Float64), 0);
            if (u is 2 or 3)
                AssertClose(wq, partTimes[u - 2][0].to(ScalarType.Float64).t());
        }
    }

    [Fact]
    public void Iterate_PerUnitCounts_EqualsIteratingEachUnitAlone()
    {
        using var scope = NewDisposeScope();
        var runs = new WeightRuns(Layers.Randn([3, 6, 8], ScalarType.Float32, seed: 4), Layers.Randn([3, 11, 8], ScalarType.Float32, seed: 5));
        var basis = linalg.qr(Layers.Randn([6, 8, 3], ScalarType.Float32, seed: 6)).Q;
        int[] counts = [1, 3, 0, 2, 2, 5];   // runs of units needing more straddle the two weight runs

        var q = SubspaceIteration.Iterate(runs, basis, counts);

        for (int u = 0; u < counts.Length; u++)
        {
            var alone = SubspaceIteration.Iterate(runs.Narrow(u, 1), basis.narrow(0, u, 1), counts[u]);
            // The same sequence of operations on the same unit: equal up to float32 rounding of batched kernels.
            AssertClose(alone[0].to(ScalarType.Float64), q[u].to(ScalarType.Float64), 1e-5);
        }

        AssertClose(basis[2].to(ScalarType.Float64), q[2].to(ScalarType.Float64), 0);   // 0 steps: the start basis
    }

    [Fact]
    public void Iterate_SlowUnitsAcrossShortAndLongGaps_EachUnitGetsExactlyItsOwnSteps()
    {
        using var scope = NewDisposeScope();
        // Six small units (8 × 64) and three large ones (400 × 64): the slow units are separated by gaps of small
        // units (cheap enough to iterate along with them) and by a large unit (not).
        var small = Layers.Randn([6, 8, 64], ScalarType.Float32, seed: 10);
        var large = Layers.Randn([3, 400, 64], ScalarType.Float32, seed: 11);
        var basis = linalg.qr(Layers.Randn([9, 64, 3], ScalarType.Float32, seed: 12)).Q;
        int[] counts = [1, 4, 0, 0, 3, 1, 2, 0, 5];
        Assert.True(8 * 64 * 2 <= SubspaceIteration.BridgeBudget / (2 * 3) && 400 * 64 > SubspaceIteration.BridgeBudget / (2 * 3));

        var q = SubspaceIteration.Iterate(new WeightRuns(small, large), basis, counts);

        for (int u = 0; u < counts.Length; u++)
        {
            // Reference: the unit's own steps, one matrix at a time.
            var w = u < 6 ? small[u] : large[u - 6];
            var expected = basis[u];
            for (int i = 0; i < counts[u]; i++)
                expected = linalg.qr(w.t().matmul(w.matmul(expected))).Q;
            AssertClose(expected.to(ScalarType.Float64), q[u].to(ScalarType.Float64), counts[u] == 0 ? 0 : 1e-5);
        }
    }

    [Fact]
    public void Measure_OneLayerWithAHighHint_IteratesAloneAndBothMatchTheSvd()
    {
        using var scope = NewDisposeScope();
        var options = EngineHarness.Options();
        using var slowWeight = EngineHarness.GappedWeight(1, 12, 10, ScalarType.Float32, seed: 7);
        using var fastWeight = EngineHarness.GappedWeight(1, 20, 10, ScalarType.Float32, seed: 8);
        using var rows = EngineHarness.OffsetRows(1, 30, 10, ScalarType.Float32, seed: 9);
        using var slow = new SpectralState();
        using var fast = new SpectralState();
        using var engine = new SpectralEngine(options.ToEngineSettings());
        LayerMeasurement[] Measure(long step) =>
            engine.Measure(step, [new LayerInput("slow", slowWeight, rows, 30, slow), new LayerInput("fast", fastWeight, rows, 30, fast)]);
        Measure(0);   // cold starts: both converge within the step
        slow.IterationHint = 6;
        fast.IterationHint = 0;

        var measured = Measure(1);

        // One bucket (same input width), yet each layer iterates as often as its own hint says.
        Assert.Equal(6, measured[0].Iterations);
        Assert.Equal(options.PowerIterations, measured[1].Iterations);
        foreach (var (weight, state, m) in new[] { (slowWeight, slow, measured[0]), (fastWeight, fast, measured[1]) })
        {
            var (v1, singular) = Reference.Svd(weight[0]);
            Assert.True(Math.Abs(Reference.Cosine(EngineHarness.V1(state)[0], v1)) >= 0.99999);
            Assert.Equal(singular[0], m.SpectralNorm, singular[0] * 1e-5);
        }
    }

    private static void AssertClose(Tensor expected, Tensor actual, double tolerance = 1e-4)
    {
        var e = Reference.ToDoubles(expected.flatten());
        var a = Reference.ToDoubles(actual.flatten());
        Assert.Equal(e.Length, a.Length);
        double scale = Math.Max(1, e.Max(Math.Abs));
        for (int i = 0; i < e.Length; i++)
            Assert.True(Math.Abs(e[i] - a[i]) <= tolerance * scale, $"element {i}: expected {e[i]}, got {a[i]}");
    }
}
