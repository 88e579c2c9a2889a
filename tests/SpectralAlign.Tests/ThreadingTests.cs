using System.Collections.Concurrent;
using System.Reflection;
using SpectralAlign.Tests.Support;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace SpectralAlign.Tests;

/// <summary>Step(), event subscription and disposal from different threads while training runs.</summary>
[Collection(TorchCollection.Name)]
public sealed class ThreadingTests
{
    [Fact]
    public async Task Monitor_SubscribeAndDisposeFromOtherThreadsDuringTraining_TrainingNeverFails()
    {
        using var model = Training.Mlp(seed: 1);
        using var task = new TeacherTask(32, 10, seed: 2);
        var monitor = new SpectralMonitor(new SpectralMonitorOptions { Interval = 1 });
        var watches = monitor.WatchAll(model);
        var failures = new ConcurrentQueue<Exception>();
        long measured = 0, churned = 0;
        monitor.Measured += (_, _) => Interlocked.Increment(ref measured);
        int stepsDone = 0;
        using var stop = new CancellationTokenSource();
        using var disposed = new ManualResetEventSlim();

        // Thread B: subscribes and unsubscribes handlers as fast as it can.
        var subscriber = Task.Run(() =>
        {
            EventHandler<LayerMeasurement> handler = (_, _) => Interlocked.Increment(ref churned);
            while (!stop.IsCancellationRequested)
            {
                monitor.Measured += handler;
                Thread.Yield();
                monitor.Measured -= handler;
            }
        });

        // Thread C: disposes one watch, later the whole monitor, while forward passes run.
        var disposer = Task.Run(() =>
        {
            SpinWait.SpinUntil(() => Volatile.Read(ref stepsDone) >= 60);
            watches[1].Dispose();
            SpinWait.SpinUntil(() => Volatile.Read(ref stepsDone) >= 150);
            monitor.Dispose();
            disposed.Set();
        });

        // Thread A (this one): the training loop. It stops calling Step() once the monitor is disposed. Plain SGD
        // with a kept Scalar, not a TorchSharp optimizer (see Training.SgdStep): this test's other threads collect.
        using var minusLearningRate = (-0.05).ToScalar();
        var parameters = model.parameters().ToList();
        for (int step = 0; step < 300; step++)
        {
            if (step == 250)
                Assert.True(disposed.Wait(TimeSpan.FromMinutes(2)));   // later forward passes must see the disposal
            try
            {
                using var scope = NewDisposeScope();
                var (x, y) = task.Batch(64);
                Training.SgdStep(model, parameters, x, y, minusLearningRate);

                if (!monitor.IsDisposed)
                {
                    try
                    {
                        monitor.Step();
                    }
                    catch (ObjectDisposedException)
                    {
                        // Disposed between the check and the call: the documented race.
                    }
                }
            }
#pragma warning disable CA1031
            catch (Exception ex)
#pragma warning restore CA1031
            {
                failures.Enqueue(ex);
            }

            Volatile.Write(ref stepsDone, step + 1);
        }

        stop.Cancel();
        await subscriber;
        await disposer;

        Assert.Empty(failures);
        Assert.True(monitor.IsDisposed);
        // The permanent subscriber saw every measurement of the steps before the disposal (3 layers, then 2).
        Assert.True(Interlocked.Read(ref measured) >= 2 * 150, $"measured {measured}");
        // Hooks disposed from another thread removed themselves on the training thread's next forward pass.
        Assert.All(new[] { model.fc1, model.fc2, model.fc3 }, l => Assert.Equal(0, PreHookCount(l)));
    }

    private static int PreHookCount(Linear module)
    {
        for (var type = module.GetType(); type is not null; type = type.BaseType)
        {
            var field = type.GetField("pre_hooks", BindingFlags.Instance | BindingFlags.NonPublic);
            if (field?.GetValue(module) is System.Collections.ICollection hooks)
                return hooks.Count;
        }

        throw new InvalidOperationException("TorchSharp's hook table was not found.");
    }
}
