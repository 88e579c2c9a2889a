using SpectralAlign.Spectral;
using SpectralAlign.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace SpectralAlign.Tests.Spectral;

/// <summary>The update ratio ‖W_t − W_prev‖_F / ‖W_t‖_F from the engine's weight sketch, against the exact value.</summary>
[Collection(TorchCollection.Name)]
public sealed class UpdateRatioTests
{
    [Theory]
    [InlineData(1, 24, 16, 1.0)]
    [InlineData(3, 10, 12, 1.0)]     // G > 1: the groups' changes add up
    [InlineData(1, 24, 16, 1e30)]    // huge weights (the rescaled path)
    [InlineData(1, 24, 16, 1e-30)]
    public void Measure_HighRankChange_EstimatesTheExactRatio(int groups, int outFeatures, int inFeatures, double scale)
    {
        using var generator = new Generator(7);
        using var baseWeight = EngineHarness.GappedWeight(groups, outFeatures, inFeatures, ScalarType.Float64, seed: 3) * scale;
        using var change = randn([groups, outFeatures, inFeatures], dtype: ScalarType.Float64, generator: generator);
        using var delta = change * (0.01 * baseWeight.norm().item<double>() / change.norm().item<double>());
        using var first = baseWeight.to(ScalarType.Float32);
        using var second = (baseWeight + delta).to(ScalarType.Float32);
        using var rows = EngineHarness.OffsetRows(groups, 20, inFeatures, ScalarType.Float32, seed: 4);
        using var state = new SpectralState();
        using var engine = new SpectralEngine(EngineHarness.Options().ToEngineSettings());

        var before = EngineHarness.Measure(engine, 0, first, rows, state);
        var after = EngineHarness.Measure(engine, 1, second, rows, state);

        using var exactDelta = second.to(ScalarType.Float64) - first.to(ScalarType.Float64);
        double exact = exactDelta.norm().item<double>() / second.to(ScalarType.Float64).norm().item<double>();
        Assert.True(double.IsNaN(before.UpdateRatio));
        // A change spread over many directions: the sketch's relative error is a few percent (stated bound: 20%).
        Assert.InRange(after.UpdateRatio, 0.8 * exact, 1.2 * exact);
    }

    [Fact]
    public void Measure_UnchangedWeight_GivesZero_AndLayersInOneBucketKeepTheirOwnSketches()
    {
        using var scope = NewDisposeScope();
        var weights = new[] { EngineHarness.GappedWeight(1, 30, 16, ScalarType.Float32, seed: 1), EngineHarness.GappedWeight(1, 5, 16, ScalarType.Float32, seed: 2) };
        var changed = new[] { weights[0].clone(), weights[1] * 1.5f };   // the second grows by 50%: ratio 1/3
        var rows = EngineHarness.OffsetRows(1, 20, 16, ScalarType.Float32, seed: 5);
        var states = new[] { new SpectralState(), new SpectralState() };
        using var engine = new SpectralEngine(EngineHarness.Options().ToEngineSettings());

        engine.Measure(0, weights.Select((w, i) => new LayerInput($"l{i}", w, rows, 20, states[i])).ToList());
        var second = engine.Measure(1, changed.Select((w, i) => new LayerInput($"l{i}", w, rows, 20, states[i])).ToList());

        Assert.Equal(0, second[0].UpdateRatio, 1e-6);   // the documented float32 floor
        // The second layer (padded to the first's 30 rows in the bucket) against its own sketch, computed here in
        // float64: ‖(W_t − W_prev)Ω‖_F / √r / ‖W_t‖_F.
        var omega = UpdateSketch.Projection(16, CPU).to(ScalarType.Float64);
        var delta = changed[1].to(ScalarType.Float64) - weights[1].to(ScalarType.Float64);
        double expected = delta[0].matmul(omega).norm().item<double>() / Math.Sqrt(UpdateSketch.Columns) / changed[1].to(ScalarType.Float64).norm().item<double>();
        Assert.Equal(expected, second[1].UpdateRatio, expected * 1e-5);
        Assert.InRange(second[1].UpdateRatio, (1 / 3.0) * 0.6, (1 / 3.0) * 1.4);   // the exact 1/3, within the sketch's error
        foreach (var s in states) s.Dispose();
    }

    [Fact]
    public void Sketch_OverRandomRankOneChanges_IsUnbiased()
    {
        // For a fixed Ω the estimate of a rank-one change u·wᵀ is ‖u‖²·Σ_c (w·ω_c)² / r; averaged over random
        // directions w it must be ‖u‖²‖w‖² (E[ωωᵀ] = I). Measured through the engine, 200 random changes.
        const int n = 12, m = 6, trials = 200;
        using var generator = new Generator(11);
        using var baseWeight = EngineHarness.GappedWeight(1, m, n, ScalarType.Float64, seed: 9);
        using var engine = new SpectralEngine(EngineHarness.Options().ToEngineSettings());
        double sum = 0;
        for (int t = 0; t < trials; t++)
        {
            using var scope = NewDisposeScope();
            using var state = new SpectralState();
            var u = randn([1, m, 1], dtype: ScalarType.Float64, generator: generator);
            var w = randn([1, 1, n], dtype: ScalarType.Float64, generator: generator);
            var delta = u.matmul(w) * 0.05;
            var second = baseWeight + delta;
            EngineHarness.Measure(engine, 0, baseWeight, null, state);
            var measured = EngineHarness.Measure(engine, 1, second, null, state);
            double exact = delta.norm().item<double>() / second.norm().item<double>();
            sum += measured.UpdateRatio * measured.UpdateRatio / (exact * exact);
        }

        // Mean of 200 ratios of squares, each with relative sd ≤ √(2/16) ≈ 0.35: within 4 standard errors of 1.
        Assert.InRange(sum / trials, 1 - (4 * 0.35 / Math.Sqrt(trials)), 1 + (4 * 0.35 / Math.Sqrt(trials)));
    }
}
