using SpectralAlign.Detection;
using SpectralAlign.Tests.Guard;
using SpectralAlign.Tests.Support;
using static SpectralAlign.Tests.Guard.GuardKit;
using static TorchSharp.torch;

namespace SpectralAlign.Tests.Telemetry;

/// <summary>A user's logger is a plug-in like a sink: one that throws never reaches the training loop.</summary>
[Collection(TorchCollection.Name)]
public sealed class SafeLoggerTests
{
    [Fact]
    public void WatchAndStep_LoggerThrows_NeitherThrowsAndEveryStepIsMeasuredAndAlerted()
    {
        using var layer = Layers.Gapped(8, 8, ScalarType.Float32, seed: 1);
        using var input = Layers.Randn([16, 8], ScalarType.Float32, seed: 2);
        var logger = new ThrowingLogger();
        var rule = new FireFromStepRule("l", 0);
        using var harness = new MonitorHarness(new SpectralMonitorOptions { Interval = 1, Detection = new DetectionOptions { WarmupSteps = 0, MinSamples = 1, ConsecutiveMeasurements = 1, Rules = [rule] } }, logger);

        var watch = harness.Monitor.Watch(layer, "l");   // logs "watching" (threw out of Watch before the fix)
        harness.Step(3, (layer, input));                // logs each measurement and the alert

        Assert.Equal("l", watch.Name);
        Assert.Equal([0L, 1L, 2L], harness.Measurements.Select(m => m.Step));
        Assert.Equal(rule.Reason, Assert.Single(harness.Alerts).Reason);
        Assert.True(logger.Calls > 3, $"the logger was called {logger.Calls} times");   // it was asked, and it threw
    }

    [Fact]
    public void GuardStep_LoggerThrows_InterventionHappensWithoutThrowing()
    {
        using var model = Mlp(1);
        var data = Data(2);
        using var optimizer = Optimizer("SGD", model.parameters(), 1e-2);
        using var monitor = new SpectralMonitor(new SpectralMonitorOptions { Interval = 5 });
        monitor.WatchAll(model);
        var logger = new ThrowingLogger();
        using var guard = new TrainingGuard(monitor, model, optimizer, new TrainingGuardOptions { Rollback = false }, logger);
        for (int step = 0; step < 3; step++)
            Assert.Equal(GuardAction.Continue, guard.Step(TrainStep(model, optimizer, data, step)));

        guard.Trip("test");
        var action = guard.Step(TrainStep(model, optimizer, data, 3));   // logs the intervention as a warning

        Assert.Equal(GuardAction.Adjusted, action);
        Assert.Equal(1, guard.Interventions);
        Assert.True(logger.Calls > 0);
        data.X.Dispose();
        data.Y.Dispose();
    }
}
