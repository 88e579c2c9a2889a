using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using SpectralAlign.Detection;
using SpectralAlign.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace SpectralAlign.Tests.Detection;

/// <summary>A rule that throws inside a running monitor: training goes on, the fault is logged once.</summary>
[Collection(TorchCollection.Name)]
public sealed class RuleIsolationTests
{
    [Fact]
    public void Step_RuleThrows_StepReturns_CounterAdvances_OtherRulesAlert_FaultLoggedOnce()
    {
        using var layer = Layers.Gapped(8, 8, ScalarType.Float32, seed: 1);
        using var input = OneSided(layer);
        var logger = new FakeLogger();
        var options = new SpectralMonitorOptions
        {
            Interval = 1,
            Detection = new DetectionOptions
            {
                WarmupSteps = 0,
                ConsecutiveMeasurements = 3,
                Rules = [new TestRules.Thrower { FailingLayer = "l", FailFrom = 1 }, new AbsoluteSignCollapseRule(), new TestRules.ThrowingRunRule()],
            },
        };
        using var harness = new MonitorHarness(options, logger);
        var monitor = harness.Monitor;
        using var watch = monitor.Watch(layer, "l");

        for (int i = 0; i < 6; i++)
        {
            using (no_grad())
                layer.call(input).Dispose();
            monitor.Step(new TrainingSignals(Loss: 1));
        }

        var alerts = harness.Alerts;
        Assert.Equal(6, monitor.CurrentStep);
        Assert.Equal((AlertReasons.AbsoluteSignCollapse, 2L), (Assert.Single(alerts).Reason, alerts[0].Step));
        var faults = logger.Collector.GetSnapshot().Where(r => r.Id.Id == 30).ToList();
        Assert.Equal(2, faults.Count);   // one per rule and subject, not one per step
        Assert.All(faults, r => Assert.Equal(LogLevel.Error, r.Level));
        Assert.Contains(faults, r => r.Message.Contains("'Thrower' threw on 'l' at step 1", StringComparison.Ordinal));
        Assert.Contains(faults, r => r.Message.Contains("'ThrowingRun' threw on '(run)' at step 0", StringComparison.Ordinal));
    }

    [Fact]
    public void Step_CrossLayerRuleGroupHasNullMember_OtherRulesAlertIsPublished_FaultLoggedOnce()
    {
        using var layer = Layers.Gapped(8, 8, ScalarType.Float32, seed: 1);
        using var input = OneSided(layer);   // the paper's rule alerts at its first judged step
        var logger = new FakeLogger();
        var options = new SpectralMonitorOptions
        {
            Interval = 1,
            Detection = new DetectionOptions { WarmupSteps = 0, ConsecutiveMeasurements = 1, Rules = [new AbsoluteSignCollapseRule(), new TestRules.NullMemberRule()] },
        };
        using var harness = new MonitorHarness(options, logger);
        harness.Monitor.Watch(layer, "l");

        var (_, alerts) = harness.StepOnce((layer, input));
        harness.Step(2, (layer, input));   // the bad rule stays off: no second fault

        Assert.Equal([(AlertReasons.AbsoluteSignCollapse, "l", 0L)], alerts.Select(a => (a.Reason, a.Layer, a.Step)));
        Assert.DoesNotContain(logger.Collector.GetSnapshot(), r => r.Id.Id == 15);   // nothing escaped detection
        var fault = Assert.Single(logger.Collector.GetSnapshot(), r => r.Id.Id == 30);
        Assert.Contains("'NullMember' threw on '(all)' at step 0", fault.Message, StringComparison.Ordinal);
        Assert.IsType<InvalidOperationException>(fault.Exception);
    }

    /// <summary>32 inputs along <paramref name="layer"/>'s v1 (from the reference SVD) plus a little seeded noise:
    /// one-sided, so the paper's rule alerts.</summary>
    private static Tensor OneSided(TorchSharp.Modules.Linear layer)
    {
        var (v1, _) = Reference.Svd(layer.weight!);
        using var direction = tensor(v1, dtype: ScalarType.Float32);
        using var noise = Layers.Randn([32, 8], ScalarType.Float32, seed: 3);
        return noise * 0.1f + direction;
    }
}
