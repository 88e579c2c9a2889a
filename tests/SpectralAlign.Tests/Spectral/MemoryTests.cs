using SpectralAlign.Tests.Support;
using static TorchSharp.torch;
using static SpectralAlign.Tests.Support.LiveTensors;

namespace SpectralAlign.Tests.Spectral;

/// <summary>What the monitor keeps between steps (on the CPU): per bucket of layers measured together, one tensor of the warm bases;
/// per run of equal output width within a bucket, one tensor each of u1 and the update sketches (WΩ)ᵀ (the layers'
/// states hold slices of them, without views of their own); per layer Ω; and nothing that grows with the number of
/// steps.</summary>
[Collection(TorchCollection.Name)]
public sealed class MemoryTests
{
    [Fact]
    public void Step_ManyMeasuredSteps_HoldsOneTensorPerBucketTwoPerRunAndOnePerLayer_AndReleasesThemOnDispose()
    {
        const int steps = 200;
        var (plain, _, _) = LiveTensorsPerStep(monitored: false, steps);
        var (monitored, layers, released) = LiveTensorsPerStep(monitored: true, steps);

        // Same training loop, same point of each step: the difference is what the monitor holds, constant over time.
        // Two buckets: the 48 × 32 layer alone, the 48 × 48 and 10 × 48 layers (same input width) together, in two
        // runs (different output widths). Per bucket its warm basis, per run u1 and the update sketch, per layer Ω.
        // (The engine's float64 row workspace, RowWorkspace, serves only buckets whose rows stay on a device: on the
        // CPU the rows are read where they are, HostRows.)
        Assert.Equal(3, layers);
        const int buckets = 2, runs = 3;
        var extra = monitored.Zip(plain, (a, b) => a - b).ToList();
        Assert.Equal(steps - 1, extra.Count);
        Assert.All(extra, e => Assert.Equal(buckets + (2 * runs) + layers, e));
        Assert.Equal(buckets + (2 * runs) + layers, released);   // disposing the monitor frees exactly those
    }

    private static (List<long> Counts, int Layers, long Released) LiveTensorsPerStep(bool monitored, int steps)
    {
        using var model = Training.Mlp(seed: 1, hidden: 48);   // three Linear layers; batch 64 > 32 sampled rows
        using var task = new TeacherTask(32, 10, seed: 2);
        var monitor = monitored ? new SpectralMonitor(new SpectralMonitorOptions { Interval = 1, MaxSamplesPerLayer = 32 }) : null;
        int layers = monitor?.WatchAll(model).Count ?? 0;
        long start = Live();
        var counts = new List<long>();
        // Counted between steps, outside every step's dispose scope (inside it, TorchSharp's hook plumbing holds the
        // hook's argument tensors until the scope ends).
        Training.Run(model, task, monitor, steps, beforeStep: step => { if (step > 0) counts.Add(Live() - start); });
        long beforeDispose = Live();
        monitor?.Dispose();
        return (counts, layers, beforeDispose - Live());
    }
}
