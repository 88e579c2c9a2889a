using TorchSharp;
using SpectralAlign.Guard.Snapshots;
using SpectralAlign.Tests.Support;
using static SpectralAlign.Tests.Guard.GuardKit;
using static TorchSharp.torch;
using static SpectralAlign.Tests.Support.LiveTensors;

namespace SpectralAlign.Tests.Guard.Snapshots;

/// <summary>A snapshot copies exactly the model's state_dict and the optimizer's serialised state, counts its bytes,
/// does not change training, and releases its tensors on dispose.</summary>
[Collection(TorchCollection.Name)]
public sealed class TrainingSnapshotTests
{
    [Theory]
    [InlineData("SGD", SnapshotLocation.Host)]
    [InlineData("Adam", SnapshotLocation.Device)]
    [InlineData("AdamW", SnapshotLocation.Host)]
    public void Capture_AfterTraining_CopiesStateDictAndOptimizerAndCountsBytes(string optimizerName, SnapshotLocation location)
    {
        using var model = Mlp(seed: 1);
        var data = Data(seed: 2);
        using var optimizer = Optimizer(optimizerName, model.parameters(), 1e-2);
        for (int i = 0; i < 5; i++)
            TrainStep(model, optimizer, data, i);

        using var snapshot = TrainingSnapshot.Capture(5, model, optimizer, location);

        var live = model.state_dict();
        Assert.Equal(live.Keys.Order(), snapshot.Tensors.Keys.Order());
        Assert.Contains("norm.running_mean", live.Keys);                 // buffers are included
        foreach (var (key, tensor) in live)
        {
            Assert.Equal(RawBytes(tensor), RawBytes(snapshot.Tensors[key]));
            Assert.Equal(DeviceType.CPU, snapshot.Tensors[key].device_type);
            Assert.False(snapshot.Tensors[key].requires_grad);
        }

        Assert.Equal(Bits(optimizer), snapshot.OptimizerState);
        long expectedTensorBytes = live.Values.Sum(t => t.numel() * t.ElementSize);
        Assert.Equal(expectedTensorBytes, snapshot.TensorBytes);
        Assert.Equal(expectedTensorBytes + snapshot.OptimizerState.Length, snapshot.Bytes);
    }

    [Fact]
    public void Capture_IsACopy_LaterTrainingDoesNotChangeIt()
    {
        using var model = Mlp(seed: 3);
        var data = Data(seed: 4);
        using var optimizer = Optimizer("Adam", model.parameters(), 1e-2);
        TrainStep(model, optimizer, data, 0);
        using var snapshot = TrainingSnapshot.Capture(0, model, optimizer, SnapshotLocation.Device);
        var copied = snapshot.Tensors.ToDictionary(kv => kv.Key, kv => RawBytes(kv.Value));

        for (int i = 1; i < 4; i++)
            TrainStep(model, optimizer, data, i);

        foreach (var (key, bytes) in copied)
            Assert.Equal(bytes, RawBytes(snapshot.Tensors[key]));
        Assert.NotEqual(copied["fc1.weight"], RawBytes(model.state_dict()["fc1.weight"]));
    }

    [Fact]
    public void Dispose_ReleasesEveryTensor()
    {
        using var model = Mlp(seed: 5);
        using var optimizer = Optimizer("SGD", model.parameters(), 1e-2);
        long before = Live();
        var snapshot = TrainingSnapshot.Capture(0, model, optimizer, SnapshotLocation.Host);
        long held = Live() - before;

        snapshot.Dispose();

        Assert.Equal(model.state_dict().Count, held);
        Assert.Equal(before, Live());
        Assert.Throws<ObjectDisposedException>(() => snapshot.Tensors);
    }
}
