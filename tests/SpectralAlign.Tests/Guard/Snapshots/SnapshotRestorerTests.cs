using SpectralAlign.Guard.Snapshots;
using SpectralAlign.Tests.Support;
using TorchSharp.Modules;
using static SpectralAlign.Tests.Guard.GuardKit;
using static TorchSharp.torch;

namespace SpectralAlign.Tests.Guard.Snapshots;

/// <summary>Restoring a snapshot puts back the exact state (training then continues bit-identically to a run that
/// never left it), keeps the learning rates in force, and is all or nothing.</summary>
[Collection(TorchCollection.Name)]
public sealed class SnapshotRestorerTests
{
    [Theory]
    [MemberData(nameof(GuardKit.Optimizers), MemberType = typeof(GuardKit))]
    public void Restore_ThenTrain_IsBitIdenticalToTrainingFromTheSnapshotPoint(string optimizerName)
    {
        var data = Data(seed: 2);
        // Reference: train 6 steps, record the state after step 2, then steps 3..5 from there.
        using var reference = Mlp(seed: 1);
        using var referenceOptimizer = Optimizer(optimizerName, reference.parameters(), 1e-2);
        var referenceLosses = Enumerable.Range(0, 6).Select(i => TrainStep(reference, referenceOptimizer, data, i)).ToArray();

        // Guarded: same run, snapshot after step 2, train on to step 5 on a divergent path (other batches), restore,
        // and replay steps 3..5.
        using var model = Mlp(seed: 1);
        using var optimizer = Optimizer(optimizerName, model.parameters(), 1e-2);
        for (int i = 0; i < 3; i++)
            TrainStep(model, optimizer, data, i);
        using var snapshot = TrainingSnapshot.Capture(2, model, optimizer, SnapshotLocation.Host);
        for (int i = 0; i < 3; i++)
            TrainStep(model, optimizer, data, 100 + i);

        SnapshotRestorer.Restore(snapshot, model, optimizer);
        var replayed = Enumerable.Range(3, 3).Select(i => TrainStep(model, optimizer, data, i)).ToArray();

        Assert.Equal(referenceLosses[3..], replayed);
        AssertSameBits(GuardKit.Bits(reference), GuardKit.Bits(model));
        Assert.Equal(GuardKit.Bits(referenceOptimizer), GuardKit.Bits(optimizer));
    }

    [Fact]
    public void Restore_KeepsTheLearningRatesInForce()
    {
        using var model = Mlp(seed: 1);
        using var optimizer = Optimizer("AdamW", model.parameters(), 1e-2);
        TrainStep(model, optimizer, Data(2), 0);
        using var snapshot = TrainingSnapshot.Capture(0, model, optimizer, SnapshotLocation.Device);
        var group = optimizer.ParamGroups.Single();
        group.LearningRate = 3e-3;

        SnapshotRestorer.Restore(snapshot, model, optimizer);

        Assert.Equal(3e-3, group.LearningRate);
        Assert.Equal(1e-2, group.InitialLearningRate);
    }

    public static TheoryData<string, int> FailurePoints => new()
    {
        { "SGD", 0 }, { "Adam", 3 }, { "AdamW", 7 }, { "Adam", -1 },   // -1: just before the optimizer state
    };

    [Theory]
    [MemberData(nameof(FailurePoints))]
    public void Restore_FailureInjectedMidway_LeavesModelAndOptimizerExactlyAsTheyWere(string optimizerName, int failAt)
    {
        var data = Data(seed: 2);
        using var model = Mlp(seed: 1);
        using var optimizer = Optimizer(optimizerName, model.parameters(), 1e-2);
        TrainStep(model, optimizer, data, 0);
        using var snapshot = TrainingSnapshot.Capture(0, model, optimizer, SnapshotLocation.Host);
        for (int i = 1; i < 4; i++)
            TrainStep(model, optimizer, data, i);
        var modelBefore = GuardKit.Bits(model);
        var optimizerBefore = GuardKit.Bits(optimizer);
        int writes = 0;

        var thrown = Assert.Throws<SnapshotRestoreException>(() => SnapshotRestorer.Restore(snapshot, model, optimizer, key =>
        {
            if (failAt >= 0 ? writes++ == failAt : key == SnapshotRestorer.OptimizerKey)
                throw new IOException("injected");
        }));

        Assert.True(thrown.StateIntact);
        Assert.IsType<IOException>(thrown.InnerException);
        AssertSameBits(modelBefore, GuardKit.Bits(model));
        Assert.Equal(optimizerBefore, GuardKit.Bits(optimizer));
    }

    [Fact]
    public void Restore_CorruptOptimizerState_FailsInsideTorchSharpAndLeavesEverythingAsItWas()
    {
        var data = Data(seed: 2);
        using var model = Mlp(seed: 1);
        using var optimizer = Optimizer("Adam", model.parameters(), 1e-2);
        TrainStep(model, optimizer, data, 0);
        using var good = TrainingSnapshot.Capture(0, model, optimizer, SnapshotLocation.Host);
        // The same snapshot with its optimizer state cut short: TorchSharp loads the first states, then fails.
        using var corrupt = WithOptimizerState(good, good.OptimizerState[..(good.OptimizerState.Length * 2 / 3)]);
        for (int i = 1; i < 4; i++)
            TrainStep(model, optimizer, data, i);
        var modelBefore = GuardKit.Bits(model);
        var optimizerBefore = GuardKit.Bits(optimizer);

        var thrown = Assert.Throws<SnapshotRestoreException>(() => SnapshotRestorer.Restore(corrupt, model, optimizer));

        Assert.True(thrown.StateIntact);
        AssertSameBits(modelBefore, GuardKit.Bits(model));
        Assert.Equal(optimizerBefore, GuardKit.Bits(optimizer));
    }

    [Fact]
    public void Restore_SnapshotOfAnotherModel_ThrowsBeforeChangingAnything()
    {
        using var model = Mlp(seed: 1);
        using var optimizer = Optimizer("SGD", model.parameters(), 1e-2);
        using var other = Mlp(seed: 1, hidden: 24);
        using var otherOptimizer = Optimizer("SGD", other.parameters(), 1e-2);
        using var snapshot = TrainingSnapshot.Capture(0, other, otherOptimizer, SnapshotLocation.Host);
        var before = GuardKit.Bits(model);

        var thrown = Assert.Throws<InvalidOperationException>(() => SnapshotRestorer.Restore(snapshot, model, optimizer));

        Assert.Contains("'fc1.weight' has shape [32, 16], the snapshot [24, 16]", thrown.Message);
        AssertSameBits(before, GuardKit.Bits(model));
    }

    /// <summary>A snapshot with <paramref name="source"/>'s tensors (copied) and another optimizer state.</summary>
    private static TrainingSnapshot WithOptimizerState(TrainingSnapshot source, byte[] optimizerState) =>
        new(source.Step, source.Tensors.ToDictionary(kv => kv.Key, kv => kv.Value.clone().DetachFromDisposeScope()), optimizerState);
}
