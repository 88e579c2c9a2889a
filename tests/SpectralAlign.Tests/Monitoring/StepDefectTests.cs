using Microsoft.Extensions.Logging.Testing;
using SpectralAlign.Detection;
using SpectralAlign.Telemetry;
using SpectralAlign.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace SpectralAlign.Tests.Monitoring;

/// <summary>Regression tests of issue 13's monitor defects: each failed before its fix.</summary>
[Collection(TorchCollection.Name)]
public sealed class StepDefectTests
{
    private sealed class ThrowingRule() : LayerRule("Throws", 1)
    {
        protected internal override RuleScorer<LayerMeasurement> CreateScorer(string layer) => new Scorer();

        private sealed class Scorer : RuleScorer<LayerMeasurement>
        {
            public override double? Score(long step, LayerMeasurement input) => throw new InvalidOperationException("rule bug");
        }
    }

    [Fact]
    public void Step_RuleThrows_CounterAdvancesAndOnlyIntervalStepsMeasure()
    {
        using var layer = Layers.Gapped(8, 8, ScalarType.Float32, seed: 1);
        using var input = Layers.Randn([16, 8], ScalarType.Float32, seed: 2);
        var logger = new FakeLogger();
        using var harness = new MonitorHarness(new SpectralMonitorOptions { Interval = 3, Detection = new DetectionOptions { WarmupSteps = 0, MinSamples = 1, Rules = [new ThrowingRule()] } }, logger);
        harness.Monitor.Watch(layer, "l");

        harness.Step(10, (layer, input));   // Step() must not throw although the rule does

        Assert.Equal(10, harness.Monitor.CurrentStep);
        Assert.Equal([0L, 3L, 6L, 9L], harness.Measurements.Select(m => m.Step));
        // The detector switches the failing rule off for the layer at its first throw: one fault, logged once.
        Assert.Equal(1, logger.Collector.GetSnapshot().Count(r => r.Id.Id == 30 && r.Exception is InvalidOperationException));
    }

    [Fact]
    public void Step_OutsideAnyDisposeScope_LeavesNoTensorBehind()
    {
        using var layer = Layers.Gapped(8, 8, ScalarType.Float32, seed: 1);
        using var input = Layers.Randn([16, 8], ScalarType.Float32, seed: 2);
        using var monitor = new SpectralMonitor(new SpectralMonitorOptions { Interval = 1 });
        using var watch = monitor.Watch(layer, "l");
        Forward(layer, input);
        monitor.Step();   // cold start: the warm basis now exists

        for (int step = 0; step < 3; step++)
        {
            Forward(layer, input);
            GC.Collect();
            GC.WaitForPendingFinalizers();   // earlier tests' garbage is finalised now, not during the count
            long before = Tensor.TotalCount;
            Assert.True(GC.TryStartNoGCRegion(16L << 20));   // and no finaliser may hide a leak of this step
            try
            {
                monitor.Step();
                using (var v1 = watch.CopySingularVector())
                    Assert.NotNull(v1);
            }
            finally
            {
                GC.EndNoGCRegion();
            }

            // The captured rows were released by the step, nothing else was created for good.
            Assert.Equal(before - 1, Tensor.TotalCount);
        }
    }

    [Fact]
    public void Step_WeightSelectorThrows_OnlyThatLayerFails_AndNoLayersRowsCarryOverToTheNextStep()
    {
        using var broken = Layers.Gapped(8, 8, ScalarType.Float32, seed: 1);
        using var fine = Layers.Gapped(8, 8, ScalarType.Float32, seed: 3);
        using var input = Layers.Randn([16, 8], ScalarType.Float32, seed: 2);
        bool fail = false;
        var logger = new FakeLogger();
        using var harness = new MonitorHarness(new SpectralMonitorOptions { Interval = 1, MaxSamplesPerLayer = 64 }, logger);
        harness.Monitor.Watch(broken, "broken", () => fail ? throw new InvalidOperationException("selector bug") : broken.weight!);
        harness.Monitor.Watch(fine, "fine");

        fail = true;
        var (failed, _) = harness.StepOnce((broken, input), (fine, input));   // must not throw into the training loop

        // Only the broken layer fails (logged once, naming it); the fine layer is measured as usual.
        Assert.Equal(["fine"], failed.Select(m => m.Layer));
        var failure = Assert.Single(logger.Collector.GetSnapshot(), r => r.Id.Id is 6 or 17);
        Assert.Equal((17, "LayerInputFailed"), (failure.Id.Id, failure.Id.Name));
        Assert.IsType<InvalidOperationException>(failure.Exception);
        Assert.Contains("'broken' at step 0", failure.Message, StringComparison.Ordinal);
        fail = false;
        var (next, _) = harness.StepOnce((broken, input), (fine, input));
        // Each layer measured on this step's 16 rows only: nothing captured on the failed step was kept.
        Assert.Equal(["broken", "fine"], next.Select(m => m.Layer));
        Assert.All(next, m => Assert.Equal(16, m.InputRows));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Step_OneLayersWeightSelectorThrows_OtherLayerMeasuredAsWhenWatchedAlone(bool background)
    {
        // Two copies of the same layer (same seed): one watched beside a broken layer, one watched alone.
        using var broken = Layers.Gapped(8, 8, ScalarType.Float32, seed: 1);
        using var fine = Layers.Gapped(8, 8, ScalarType.Float32, seed: 3);
        using var fineAlone = Layers.Gapped(8, 8, ScalarType.Float32, seed: 3);
        bool fail = false;
        var logger = new FakeLogger();
        var options = new SpectralMonitorOptions { Interval = 1, Seed = 5, MaxSamplesPerLayer = 16, MeasureInBackground = background };
        using var both = new MonitorHarness(options, logger);
        both.Monitor.Watch(broken, "broken", () => fail ? throw new InvalidOperationException("selector bug") : broken.weight!);
        both.Monitor.Watch(fine, "fine");
        using var alone = new MonitorHarness(options);
        alone.Monitor.Watch(fineAlone, "fine");

        fail = true;
        for (int step = 0; step < 3; step++)
        {
            using var input = Layers.Randn([32, 8], ScalarType.Float32, seed: 10 + step);
            both.Step(1, (broken, input), (fine, input));
            alone.Step(1, (fineAlone, input));
        }

        both.Monitor.Flush();
        alone.Monitor.Flush();
        Assert.Empty(both.Of("broken"));
        Assert.Equal(3, alone.Measurements.Count);
        Assert.Equal(alone.Measurements.Count, both.Measurements.Count);
        foreach (var (expected, actual) in alone.Measurements.Zip(both.Measurements))
            Measurements.AssertIdentical(expected, actual);
        Assert.Equal(3, logger.Collector.GetSnapshot().Count(r => r.Id.Id == 17 && r.Message.Contains("'broken'", StringComparison.Ordinal)));
    }

    [Fact]
    public void AddCaptureSink_SinkWaitsForAnotherThreadThatUsesTheMonitor_DoesNotBlock()
    {
        using var layer = Layers.Gapped(8, 8, ScalarType.Float32, seed: 1);
        using var input = Layers.Randn([16, 8], ScalarType.Float32, seed: 2);
        using var monitor = new SpectralMonitor(new SpectralMonitorOptions { Interval = 1 });
        monitor.Watch(layer, "l");
        var otherThreadDone = new List<bool>();
        monitor.AddCaptureSink(new CallbackCaptureSink(_ =>
            otherThreadDone.Add(Task.Run(() => monitor.Watches.Count).Wait(TimeSpan.FromSeconds(10)))));

        Forward(layer, input);
        monitor.Step();

        Assert.Equal([true], otherThreadDone);
    }

    private static void Forward(nn.Module<Tensor, Tensor> layer, Tensor input)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        layer.call(input);
    }

    /// <summary>At an explosion the attention output projection's weight turns NaN, and recovering its input rows
    /// (solving through that weight) fails: the layer is still measured, without rows, so its non-finite weight is
    /// flagged and raises the NonFinite alert; the recovery failure is logged as such (event 18) and the other views
    /// are measured as usual.</summary>
    [Fact]
    public void Step_AttentionOutputWeightNaN_OutViewMeasuredWithoutRowsAndAlertsNonFinite()
    {
        const int embed = 8, length = 5, batch = 3;
        manual_seed(1);
        using var attention = nn.MultiheadAttention(embed, 2);
        using var query = Layers.Randn([length, batch, embed], ScalarType.Float32, seed: 2);
        var logger = new FakeLogger();
        using var harness = new MonitorHarness(new SpectralMonitorOptions { Interval = 1, MaxSamplesPerLayer = 64 }, logger);
        harness.Monitor.Watch(attention, "attn");
        using (no_grad())
        {
            var outWeight = attention.named_parameters().Single(p => p.name == "out_proj.weight").parameter;
            outWeight[0, 0] = tensor(float.NaN);
            attention.call(query, query, query).Item1.Dispose();
        }

        harness.Monitor.Step();

        var measured = harness.Measurements.ToDictionary(m => m.Layer);
        Assert.Equal(["attn.k", "attn.out", "attn.q", "attn.v"], measured.Keys.Order());
        var outView = measured["attn.out"];
        Assert.True(outView.Conditions.HasFlag(MeasurementConditions.NonFiniteWeight), outView.Conditions.ToString());
        Assert.True(outView.Conditions.HasFlag(MeasurementConditions.NoInput), outView.Conditions.ToString());
        Assert.Contains(harness.Alerts, a => a.Layer == "attn.out" && a.Reason == AlertReasons.NonFinite);
        var failure = Assert.Single(logger.Collector.GetSnapshot(), r => r.Id.Id is 17 or 18);
        Assert.Equal((18, "RowRecoveryFailed"), (failure.Id.Id, failure.Id.Name));
        Assert.Contains("'attn.out' at step 0", failure.Message, StringComparison.Ordinal);
    }
}
