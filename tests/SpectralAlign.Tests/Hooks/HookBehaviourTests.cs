using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using SpectralAlign.Tests.Support;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace SpectralAlign.Tests.Hooks;

/// <summary>When the hooks capture, what they capture, and what happens when they cannot.</summary>
[Collection(TorchCollection.Name)]
public sealed class HookBehaviourTests
{
    [Fact]
    public void Step_LayerInvokedWithForward_WarnsOnceNamingLayerAndCall()
    {
        using var layer = Layers.Gapped(8, 8, ScalarType.Float32, seed: 1);
        using var input = Layers.Randn([16, 8], ScalarType.Float32, seed: 2);
        var logger = new FakeLogger();
        using var harness = new MonitorHarness(new SpectralMonitorOptions { Interval = 1, SilentHookSteps = 3 }, logger);
        var monitor = harness.Monitor;
        using var watch = monitor.Watch(layer, "blocks.0.mlp");

        for (int step = 0; step < 10; step++)
        {
            using (no_grad())
                layer.forward(input).Dispose();   // bypasses hooks
            monitor.Step();
        }

        var warnings = logger.Collector.GetSnapshot().Where(r => r.Id.Id == 3).ToList();
        var warning = Assert.Single(warnings);
        Assert.Equal(LogLevel.Warning, warning.Level);
        Assert.Contains("blocks.0.mlp", warning.Message, StringComparison.Ordinal);
        Assert.Contains("call()", warning.Message, StringComparison.Ordinal);
        Assert.Contains("forward(", warning.Message, StringComparison.Ordinal);
        // Spectral quantities are still measured; the SA statistics are empty and flagged.
        var measurements = harness.Measurements;
        Assert.Equal(10, measurements.Count);
        Assert.All(measurements, m => Assert.True(m.Conditions.HasFlag(MeasurementConditions.NoInput)));
        Assert.All(measurements, m => Assert.Equal(0, m.Stats.Count));
        Assert.All(measurements, m => Assert.True(m.SpectralNorm > 0));
    }

    [Fact]
    public void Step_LayerInvokedWithCall_NoSilenceWarning()
    {
        using var layer = Layers.Gapped(8, 8, ScalarType.Float32, seed: 1);
        using var input = Layers.Randn([16, 8], ScalarType.Float32, seed: 2);
        var logger = new FakeLogger();
        using var monitor = new SpectralMonitor(new SpectralMonitorOptions { Interval = 3, SilentHookSteps = 2 }, logger);
        using var watch = monitor.Watch(layer, "l");
        for (int step = 0; step < 12; step++)
        {
            using (no_grad())
                layer.call(input).Dispose();
            monitor.Step();
        }

        Assert.DoesNotContain(logger.Collector.GetSnapshot(), r => r.Id.Id == 3);
    }

    [Fact]
    public void Step_EvalModeForwards_AreIgnored()
    {
        var (layer, plus, minus) = RankOneLayerWithInputs();
        using var _ = layer;
        using var __ = plus;
        using var ___ = minus;
        using var harness = new MonitorHarness(new SpectralMonitorOptions { Interval = 1 });
        var monitor = harness.Monitor;
        using var watch = monitor.Watch(layer, "l");

        using (no_grad())
        {
            layer.eval();
            layer.call(minus).Dispose();      // validation pass: ignored
            layer.train();
            layer.call(plus).Dispose();
            layer.eval();
            layer.call(minus).Dispose();
        }

        monitor.Step();
        using (no_grad())
            layer.call(minus).Dispose();      // still eval: nothing captured on step 1
        monitor.Step();

        var measurements = harness.Measurements;
        Assert.Equal(32, measurements[0].Stats.Count);
        Assert.Equal(1.0, measurements[0].Stats.AbsMean, 1e-6);
        Assert.Equal(0.0, measurements[0].Stats.SignDiversity);
        Assert.True(measurements[1].Conditions.HasFlag(MeasurementConditions.NoInput));
    }

    [Theory]
    [InlineData(32, 16, 1.0, 32)]   // first micro-batch fills the sample: only it is measured (and counted)
    [InlineData(10, 16, 0.25, 42)]  // 10 rows of +v, then 6 of the 32 rows of −v: mean = (10 − 6) / 16
    public void Step_GradientAccumulation_FillsSampleFromMicroBatchesInCallOrder(int firstRows, int maxSamples, double expectedAbsMean, int expectedInputRows)
    {
        var (layer, plus, minus) = RankOneLayerWithInputs();
        using var _ = layer;
        using var __ = plus;
        using var ___ = minus;
        using var harness = new MonitorHarness(new SpectralMonitorOptions { Interval = 1, MaxSamplesPerLayer = maxSamples });
        var monitor = harness.Monitor;
        using var watch = monitor.Watch(layer, "l");

        // Two micro-batches, one optimizer step.
        using var first = plus.narrow(0, 0, firstRows);
        layer.call(first).sum().backward();
        layer.call(minus).sum().backward();
        monitor.Step();

        var measured = harness.Last("l");
        Assert.Equal(maxSamples, measured.Stats.Count);
        Assert.Equal(expectedAbsMean, measured.Stats.AbsMean, 1e-6);
        Assert.Equal(expectedInputRows, measured.InputRows);
    }

    [Theory]
    [InlineData("linear", 1)]
    [InlineData("conv", 1)]
    [InlineData("attention", 4)]
    public void Step_MicroBatchesEachFillingTheSample_CapturesOnlyTheFirstAndMeasuresAsIfAlone(string kind, int views)
    {
        var (accumulated, accumulatedCaptures) = MeasureMicroBatches(kind, microBatches: 3);
        var (alone, aloneCaptures) = MeasureMicroBatches(kind, microBatches: 1);

        // One capture per view, by the first micro-batch; the later ones find the sample full and return at once.
        Assert.Equal(views, aloneCaptures);
        Assert.Equal(views, accumulatedCaptures);
        Assert.Equal(views, accumulated.Count);
        Assert.Equal(alone.Count, accumulated.Count);
        for (int i = 0; i < alone.Count; i++)
            Measurements.AssertIdentical(alone[i], accumulated[i]);
    }

    /// <summary>One measured step of a freshly seeded <paramref name="kind"/> layer over <paramref name="microBatches"/>
    /// micro-batches of 32 rows each (the sample holds 16), with the hook captures counted by a cost profile.</summary>
    private static (IReadOnlyList<LayerMeasurement> Measurements, long Captures) MeasureMicroBatches(string kind, int microBatches)
    {
        manual_seed(21);
        using nn.Module module = kind switch
        {
            "linear" => Layers.Gapped(8, 8, ScalarType.Float32, seed: 22),
            "conv" => nn.Conv2d(2, 4, 3),
            _ => nn.MultiheadAttention(12, 3),
        };
        using var harness = new MonitorHarness(new SpectralMonitorOptions { Interval = 1, MaxSamplesPerLayer = 16, Seed = 5 });
        var profile = new SpectralAlign.Spectral.CostProfile();
        harness.Monitor.Profile = profile;
        using var watch = harness.Monitor.Watch(module, kind);
        using (var scope = NewDisposeScope())
        using (no_grad())
        {
            for (int i = 0; i < microBatches; i++)
            {
                long seed = 30 + i;
                _ = module switch
                {
                    Linear linear => linear.call(Layers.Randn([32, 8], ScalarType.Float32, seed)),
                    Conv2d conv => conv.call(Layers.Randn([2, 2, 6, 6], ScalarType.Float32, seed)),   // 2 × 4 × 4 patches
                    MultiheadAttention attention => Attend(attention, Layers.Randn([8, 4, 12], ScalarType.Float32, seed)),
                    _ => throw new InvalidOperationException(kind),
                };
            }
        }

        harness.Monitor.Step();
        return (harness.Measurements, profile.CaptureCalls);
    }

    private static Tensor Attend(MultiheadAttention attention, Tensor sequence) => attention.call(sequence, sequence, sequence).Item1;

    [Fact]
    public void Step_Interval4_OnlyEveryFourthStepIsMeasured()
    {
        using var layer = Layers.Gapped(8, 8, ScalarType.Float32, seed: 1);
        using var input = Layers.Randn([16, 8], ScalarType.Float32, seed: 2);
        using var harness = new MonitorHarness(new SpectralMonitorOptions { Interval = 4 });
        using var watch = harness.Monitor.Watch(layer, "l");
        harness.Step(13, (layer, input));

        Assert.Equal(new long[] { 0, 4, 8, 12 }, harness.Measurements.Select(m => m.Step));
        Assert.Equal(13, harness.Monitor.CurrentStep);
    }

    [Fact]
    public void Step_SameSeed_ReproducibleSubsample_DifferentSeed_DifferentSubsample()
    {
        using var layer = Layers.Gapped(16, 16, ScalarType.Float32, seed: 1);
        using var input = Layers.Randn([4, 250, 16], ScalarType.Float32, seed: 2);

        double Mean(int seed)
        {
            using var harness = new MonitorHarness(new SpectralMonitorOptions { Interval = 1, MaxSamplesPerLayer = 64, Seed = seed });
            using var watch = harness.Monitor.Watch(layer, "l");
            harness.Step(1, (layer, input));
            return harness.Last("l").Stats.Mean;
        }

        Assert.Equal(Mean(5), Mean(5));
        Assert.NotEqual(Mean(5), Mean(6));
    }

    [Fact]
    public void Dispose_Watch_RemovesHookAtOnce_LayerCanBeWatchedAgain()
    {
        using var layer = Layers.Gapped(8, 8, ScalarType.Float32, seed: 1);
        using var input = Layers.Randn([16, 8], ScalarType.Float32, seed: 2);
        using var harness = new MonitorHarness(new SpectralMonitorOptions { Interval = 1 });
        var monitor = harness.Monitor;
        var watch = monitor.Watch(layer, "l");

        using (no_grad())
            layer.call(input).Dispose();
        watch.Dispose();
        Assert.True(watch.IsDisposed);
        Assert.Empty(monitor.Watches);
        using (no_grad())
            layer.call(input).Dispose();     // no hook: nothing captured, nothing thrown
        monitor.Step();
        Assert.Empty(harness.Measurements);

        using var again = monitor.Watch(layer, "l");
        using (no_grad())
            layer.call(input).Dispose();
        monitor.Step();
        Assert.Equal(["l"], harness.Measurements.Select(m => m.Layer));
        Assert.Throws<ObjectDisposedException>(() => watch.CopySingularVector());
    }

    [Fact]
    public void Call_WrongInputType_IsIgnoredAndLoggedOnce()
    {
        // A module with a 2-D weight that is fed integer indices (an unusual custom module) is not a crash.
        using var layer = Layers.Gapped(8, 8, ScalarType.Float32, seed: 1);
        var logger = new FakeLogger();
        using var monitor = new SpectralMonitor(new SpectralMonitorOptions { Interval = 1 }, logger);
        using var watch = monitor.Watch(layer, "l");
        using var wrongWidth = ones(4, 8).narrow(1, 0, 5);
        for (int i = 0; i < 3; i++)
        {
            Assert.ThrowsAny<Exception>(() => layer.call(wrongWidth));  // torch itself rejects the shape
        }

        monitor.Step();
        var logged = logger.Collector.GetSnapshot().Where(r => r.Id.Id == 7).ToList();
        Assert.Single(logged);
        Assert.Contains("last dimension is 8", logged[0].Message, StringComparison.Ordinal);
    }

    private static (Linear Layer, Tensor Plus, Tensor Minus) RankOneLayerWithInputs()
    {
        using var u = Layers.Randn([6, 1], ScalarType.Float32, seed: 1);
        using var vRaw = Layers.Randn([1, 10], ScalarType.Float32, seed: 2);
        using var v = vRaw / vRaw.norm();
        var layer = Layers.WithWeight(u.matmul(v));
        using var scales = arange(1, 33, dtype: ScalarType.Float32).unsqueeze(1);
        return (layer, scales * v, -scales * v);
    }
}
