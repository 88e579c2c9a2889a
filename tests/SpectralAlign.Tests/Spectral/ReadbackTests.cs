using SpectralAlign.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace SpectralAlign.Tests.Spectral;

/// <summary>The hot path's synchronisation budget: one device-to-host transfer per measured Step(), none in hooks,
/// none on unmeasured steps.</summary>
[Collection(TorchCollection.Name)]
public sealed class ReadbackTests(Xunit.Abstractions.ITestOutputHelper output)
{
    [Fact]
    public void Step_WarmTraining_ExactlyOneReadbackPerMeasuredStep_NoneInHooksOrUnmeasuredSteps()
    {
        using var model = Training.Mlp(seed: 1, hidden: 48);
        using var task = new TeacherTask(32, 10, seed: 2);
        using var monitor = new SpectralMonitor(new SpectralMonitorOptions { Interval = 2 });
        monitor.WatchAll(model);   // three layers, three different weight shapes
        var perStep = new List<long>();
        long inForward = 0;
        using var optimizer = optim.Adam(model.parameters(), 1e-3);
        for (int step = 0; step < 400; step++)
        {
            using var scope = NewDisposeScope();
            var (x, y) = task.Batch(64);
            long before = monitor.HostReadbacks;
            optimizer.zero_grad();
            var loss = nn.functional.cross_entropy(model.call(x), y);
            loss.backward();
            optimizer.step();
            inForward += monitor.HostReadbacks - before;
            long beforeStep = monitor.HostReadbacks;
            monitor.Step();
            perStep.Add(monitor.HostReadbacks - beforeStep);
        }

        output.WriteLine($"readbacks per step: {string.Join(",", perStep.Take(20))} … total {perStep.Sum()}");
        Assert.Equal(0, inForward);
        Assert.All(perStep.Where((_, step) => step % 2 == 1), n => Assert.Equal(0, n));
        Assert.True(perStep[0] >= 1);   // the cold start may iterate (and read back) more than once
        Assert.All(perStep.Skip(2).Where((_, i) => i % 2 == 0), n => Assert.Equal(1, n));
    }
}
