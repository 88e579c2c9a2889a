using SpectralAlign.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace SpectralAlign.Tests;

/// <summary>Handlers and sinks that call back into the monitor, or dispose it, from another thread while
/// <see cref="SpectralMonitor.Step()"/> runs: with a timeout, so a deadlock fails the test instead of hanging it.</summary>
[Collection(TorchCollection.Name)]
public sealed class DeadlockTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Step_HandlerWaitsForAnotherThreadThatCallsBackAndDisposes_CompletesWithinTimeout()
    {
        var run = Task.Run(() =>
        {
            using var layer = Layers.Gapped(8, 8, ScalarType.Float32, seed: 1);
            using var input = Layers.Randn([16, 8], ScalarType.Float32, seed: 2);
            using var harness = new MonitorHarness(new SpectralMonitorOptions { Interval = 1 });
            var monitor = harness.Monitor;
            monitor.Watch(layer, "l");
            var seen = new List<string>();
            // Tests the event itself (a handler that blocks on another thread), so a hand-written handler.
            monitor.Measured += (_, m) =>
            {
                // Another thread uses every locked entry point, then disposes the monitor; this handler waits for it.
                var other = Task.Run(() =>
                {
                    seen.Add($"watches={monitor.Watches.Count}");
                    using (var state = new MemoryStream())
                        monitor.SaveState(state);
                    monitor.AddSink(new NullSink()).Dispose();
                    monitor.Watches[0].Dispose();
                    monitor.Dispose();
                    seen.Add("disposed");
                });
                seen.Add(other.Wait(Timeout) ? "other thread done" : "other thread blocked");
            };

            harness.Step(1, (layer, input));
            return seen;
        });

        Assert.Same(run, await Task.WhenAny(run, Task.Delay(Timeout * 2)));   // otherwise Step() never returned: deadlock
        Assert.Equal(["watches=1", "disposed", "other thread done"], await run);
    }

    [Fact]
    public async Task Step_AnotherThreadDisposesMidPublication_NeverHangsAndEndsDisposed()
    {
        var run = Task.Run(() =>
        {
            using var model = Training.Mlp(seed: 3);
            using var task = new TeacherTask(32, 10, seed: 4);
            using var harness = new MonitorHarness(new SpectralMonitorOptions { Interval = 1 });
            harness.Monitor.WatchAll(model);
            harness.Monitor.CollapseDetected += (_, _) => { };
            // Tests the event itself (a handler that disposes the monitor from another thread), so a hand-written handler.
            harness.Monitor.Measured += (_, m) =>
            {
                if (m.Step == 20 && m.Layer == "fc1")
                    Task.Run(harness.Monitor.Dispose).Wait(Timeout);   // disposal from another thread, mid-publication
            };
            Training.Run(model, task, monitor: null, 40, afterStep: (_, _) =>
            {
                if (!harness.Monitor.IsDisposed)
                    harness.Monitor.Step();
            });
            return (harness.Monitor.IsDisposed, harness.Measurements.Max(m => m.Step));
        });

        Assert.Same(run, await Task.WhenAny(run, Task.Delay(Timeout * 2)));   // otherwise training never finished: deadlock
        Assert.Equal((true, 20L), await run);
    }

    private sealed class NullSink : SpectralAlign.Telemetry.ISpectralSink
    {
        public void OnStep(SpectralAlign.Telemetry.StepReport report)
        {
        }
    }
}
