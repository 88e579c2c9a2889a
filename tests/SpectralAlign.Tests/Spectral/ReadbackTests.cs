using SpectralAlign.Spectral;
using SpectralAlign.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace SpectralAlign.Tests.Spectral;

/// <summary>The hot path's synchronisation budget, counted over every device-to-host copy the library makes: one per
/// measured Step(), none in hooks, none on unmeasured steps.</summary>
[Collection(TorchCollection.Name)]
public sealed class ReadbackTests(Xunit.Abstractions.ITestOutputHelper output)
{
    [Fact]
    public void Step_WarmTraining_ExactlyOneTransferPerMeasuredStep_NoneInHooksOrUnmeasuredSteps() =>
        AssertOneTransferPerMeasuredStep(CPU, steps: 400);

    /// <summary>The same budget where a hidden copy would stall the training stream; skipped, with its reason,
    /// where TorchSharp sees no CUDA device (a CPU run cannot falsify it: there a synchronisation costs nothing).</summary>
    [CudaFact]
    public void Step_WarmTrainingOnCuda_ExactlyOneTransferPerMeasuredStep_NoneInHooksOrUnmeasuredSteps() =>
        AssertOneTransferPerMeasuredStep(CUDA, steps: 60);

    private void AssertOneTransferPerMeasuredStep(Device device, int steps)
    {
        using var model = Training.Mlp(seed: 1, hidden: 48);
        model.to(device);
        using var task = new TeacherTask(32, 10, seed: 2);
        using var monitor = new SpectralMonitor(new SpectralMonitorOptions { Interval = 2 });
        monitor.WatchAll(model);   // three layers, three different weight shapes
        var perStep = new List<long>();
        long inForward = 0;
        // Plain SGD with a kept Scalar, not a TorchSharp optimizer (see Training.SgdStep).
        using var minusLearningRate = (-0.05).ToScalar();
        var parameters = model.parameters().ToList();
        for (int step = 0; step < steps; step++)
        {
            using var scope = NewDisposeScope();
            var (x, y) = task.Batch(64);
            (x, y) = (x.to(device), y.to(device));
            long before = DeviceTransfer.Count;
            Training.SgdStep(model, parameters, x, y, minusLearningRate);
            inForward += DeviceTransfer.Count - before;
            long beforeStep = DeviceTransfer.Count;
            monitor.Step();
            perStep.Add(DeviceTransfer.Count - beforeStep);
        }

        output.WriteLine($"{device}: transfers per step: {string.Join(",", perStep.Take(20))} … total {perStep.Sum()}");
        Assert.Equal(0, inForward);
        Assert.All(perStep.Where((_, step) => step % 2 == 1), n => Assert.Equal(0, n));
        Assert.True(perStep[0] >= 1);   // the cold start may iterate (and read back) more than once
        Assert.All(perStep.Skip(2).Where((_, i) => i % 2 == 0), n => Assert.Equal(1, n));
    }

    [Fact]
    public void Step_AttentionAndSubsampledInputs_NoTransferInTheForwardPass()
    {
        // MultiheadAttention (its out-projection's input is recovered at Step()) and inputs larger than the sample.
        using var attention = nn.MultiheadAttention(16, 2);
        using var monitor = new SpectralMonitor(new SpectralMonitorOptions { Interval = 1, MaxSamplesPerLayer = 8 });
        monitor.Watch(attention, "attn");
        using var generator = new Generator(3);
        var perStep = new List<long>();
        for (int step = 0; step < 6; step++)
        {
            using var scope = NewDisposeScope();
            var x = randn([10, 4, 16], generator: generator);
            long before = DeviceTransfer.Count;
            using (no_grad())
                attention.call(x, x, x, null, false, null);
            Assert.Equal(before, DeviceTransfer.Count);
            monitor.Step();
            perStep.Add(DeviceTransfer.Count - before);
        }

        Assert.All(perStep.Skip(2), n => Assert.Equal(1, n));
    }
}
