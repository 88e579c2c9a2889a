using SpectralAlign.Spectral;
using SpectralAlign.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace SpectralAlign.Tests.Spectral;

/// <summary>The synchronisation budget of <see cref="ReadbackTests"/> on a CUDA device, where a hidden device-to-host
/// copy would stall the training stream: one transfer per measured Step(), none in hooks or unmeasured steps, and the
/// same measurements as on the CPU (to float32 rounding of the two devices' kernels).</summary>
[Collection(TorchCollection.Name)]
public sealed class CudaReadbackTests
{
    [CudaFact]
    public void Step_OnCuda_ExactlyOneTransferPerMeasuredStep_NoneInHooksOrUnmeasuredSteps()
    {
        var device = CUDA;
        using var model = Training.Mlp(seed: 1, hidden: 48);
        model.to(device);
        using var task = new TeacherTask(32, 10, seed: 2);
        using var monitor = new SpectralMonitor(new SpectralMonitorOptions { Interval = 2 });
        monitor.WatchAll(model);
        var perStep = new List<long>();
        long inForward = 0;
        using var optimizer = optim.SGD(model.parameters(), 1e-2);
        for (int step = 0; step < 60; step++)
        {
            using var scope = NewDisposeScope();
            var (x, y) = task.Batch(64);
            x = x.to(device);
            y = y.to(device);
            long before = DeviceTransfer.Count;
            optimizer.zero_grad();
            var loss = nn.functional.cross_entropy(model.call(x), y);
            loss.backward();
            optimizer.step();
            inForward += DeviceTransfer.Count - before;
            long beforeStep = DeviceTransfer.Count;
            monitor.Step();
            perStep.Add(DeviceTransfer.Count - beforeStep);
        }

        Assert.Equal(0, inForward);
        Assert.All(perStep.Where((_, step) => step % 2 == 1), n => Assert.Equal(0, n));
        Assert.All(perStep.Skip(2).Where((_, i) => i % 2 == 0), n => Assert.Equal(1, n));
    }
}
