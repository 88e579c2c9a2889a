using SpectralAlign.Tests.Support;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace SpectralAlign.Tests;

/// <summary>A monitor must never change the run it watches: same seed, same bits, with or without it.</summary>
[Collection(TorchCollection.Name)]
public sealed class DeterminismTests
{
    private const int Steps = 300;

    /// <summary>What a run produced: every loss, and the final weights and gradients, as raw bits.</summary>
    private sealed record RunResult(float[] Losses, float[] Weights, float[] Gradients);

    [Theory]
    [InlineData(false)]
    [InlineData(true)]   // MeasureInBackground: the worker reads copies of the weights while training goes on
    public void Training_MonitoredEveryStep_IsBitIdenticalToUnmonitored(bool background)
    {
        // In the background, both runs use the written-out SGD step: the worker allocates while the loop runs, and
        // TorchSharp's Adam makes temporary Scalars a collection could free mid-call (README, "Threading").
        var plain = Train(monitor: null, sgd: background);
        var monitored = Train(new SpectralMonitorOptions { Interval = 1, MaxSamplesPerLayer = 64, MeasureInBackground = background }, sgd: background);

        Assert.Equal(plain.Losses, monitored.Losses);
        Assert.Equal(plain.Weights, monitored.Weights);
        Assert.Equal(plain.Gradients, monitored.Gradients);
        Assert.True(plain.Losses.Distinct().Count() > Steps / 2, "the run should actually train");
    }

    [Fact]
    public void Training_WatchAndMonitorDisposedMidRun_IsBitIdenticalAndHooksAreGone()
    {
        var plain = Train(monitor: null);
        SpectralMonitor? disposed = null;
        long eventsAfterDispose = 0, refusedSteps = 0;
        var result = Train(new SpectralMonitorOptions { Interval = 1 }, (step, monitor, m) =>
        {
            if (step == 100)
            {
                var first = monitor.Watches[0];
                first.Dispose();
                Assert.Equal(0, TorchHooks.PreHookCount(first.Module));
            }

            if (step == 200)
            {
                // Subscribed while the monitor is alive: Dispose must detach the hooks and silence the events.
                monitor.Measured += (_, _) => eventsAfterDispose++;
                monitor.CollapseDetected += (_, _) => eventsAfterDispose++;
                monitor.Dispose();
                Assert.All(m.modules().OfType<Linear>(), l => Assert.Equal(0, TorchHooks.PreHookCount(l)));
                disposed = monitor;
            }

            if (disposed is not null)
            {
                // A loop that keeps calling Step() after disposing is refused; the forward pass of this step follows.
                try
                {
                    disposed.Step();
                }
                catch (ObjectDisposedException)
                {
                    refusedSteps++;
                }
            }
        });

        Assert.Equal(plain.Losses, result.Losses);
        Assert.Equal(plain.Weights, result.Weights);
        Assert.Equal(plain.Gradients, result.Gradients);
        Assert.Equal(0, eventsAfterDispose);
        Assert.Equal(Steps - 200, refusedSteps);
    }

    /// <summary>
    /// Trains an MLP with dropout (Adam, or with <paramref name="sgd"/> a written-out SGD step) on a fixed dataset reshuffled every epoch with torch's global generator; the monitor
    /// (if any) watches every Linear.
    /// </summary>
    private static RunResult Train(SpectralMonitorOptions? monitor, Action<int, SpectralMonitor, Sequential>? onStep = null, bool sgd = false)
    {
        manual_seed(2024);
        using var scopeAll = NewDisposeScope();
        var data = randn(512, 16);
        var labels = randint(0, 4, [512], dtype: ScalarType.Int64);
        var model = nn.Sequential(
            ("fc1", nn.Linear(16, 32)), ("relu1", nn.ReLU()), ("drop1", nn.Dropout(0.3)),
            ("fc2", nn.Linear(32, 32)), ("relu2", nn.ReLU()), ("drop2", nn.Dropout(0.3)),
            ("head", nn.Linear(32, 4)));
        using var optimizer = optim.Adam(model.parameters(), 3e-3);
        var parameters = model.parameters().ToList();
        using var minusLearningRate = (-3e-2).ToScalar();
        SpectralMonitor? spectral = monitor is null ? null : new SpectralMonitor(monitor);
        spectral?.WatchAll(model);
        var losses = new float[Steps];
        Tensor? order = null;
        for (int step = 0; step < Steps; step++)
        {
            onStep?.Invoke(step, spectral!, model);
            if (spectral is { } s && s.Watches.Count == 0 && step > 0)
                spectral = null;   // a loop stops calling Step() once it has disposed its monitor
            int batch = step % 8;
            if (batch == 0)
            {
                order?.Dispose();
                order = randperm(512).DetachFromDisposeScope();   // shuffling draws from the global generator
            }

            using var scope = NewDisposeScope();
            var index = order!.narrow(0, batch * 64, 64);
            optimizer.zero_grad();
            var loss = nn.functional.cross_entropy(model.call(data.index_select(0, index)), labels.index_select(0, index));
            loss.backward();
            if (step < Steps - 1)
            {
                if (!sgd)
                {
                    optimizer.step();
                }
                else
                {
                    using var noGrad = no_grad();
                    foreach (var p in parameters)
                        p.add_(p.grad!, minusLearningRate);
                }
            }
            spectral?.Step();
            losses[step] = loss.item<float>();
        }

        order?.Dispose();
        float[] Flatten(IEnumerable<Tensor> tensors) => tensors.SelectMany(t => t.detach().cpu().data<float>().ToArray()).ToArray();
        var weights = Flatten(model.parameters());
        var gradients = Flatten(model.parameters().Select(p => p.grad!));
        spectral?.Dispose();
        model.Dispose();
        return new RunResult(losses, weights, gradients);
    }
}
