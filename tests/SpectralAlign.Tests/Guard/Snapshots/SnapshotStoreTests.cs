using SpectralAlign.Guard.Snapshots;
using SpectralAlign.Tests.Support;
using static SpectralAlign.Tests.Guard.GuardKit;

namespace SpectralAlign.Tests.Guard.Snapshots;

/// <summary>The store keeps at most its capacity, disposes what it evicts or discards, and picks rollback targets by
/// the margin rule.</summary>
[Collection(TorchCollection.Name)]
public sealed class SnapshotStoreTests
{
    private static SnapshotStore Filled(int capacity, params long[] steps)
    {
        var model = Mlp(seed: 1, input: 4, hidden: 4, classes: 2);
        var optimizer = Optimizer("SGD", model.parameters(), 0.1);
        var store = new SnapshotStore(capacity);
        foreach (var step in steps)
            store.Add(TrainingSnapshot.Capture(step, model, optimizer, SnapshotLocation.Host));
        return store;
    }

    [Fact]
    public void Add_BeyondCapacity_EvictsAndDisposesTheOldest()
    {
        using var model = Mlp(seed: 1, input: 4, hidden: 4, classes: 2);
        using var optimizer = Optimizer("SGD", model.parameters(), 0.1);
        using var store = new SnapshotStore(3);
        var snapshots = new[] { 0L, 50, 100, 150 }.Select(step => TrainingSnapshot.Capture(step, model, optimizer, SnapshotLocation.Host)).ToArray();

        foreach (var snapshot in snapshots)
            store.Add(snapshot);

        Assert.Equal([50, 100, 150], store.Snapshots.Select(s => s.Step));
        Assert.Equal(3 * snapshots[1].Bytes, store.Bytes);
        Assert.Throws<ObjectDisposedException>(() => snapshots[0].Tensors);
    }

    [Fact]
    public void Add_OutOfStepOrder_Throws()
    {
        using var store = Filled(3, 10);
        using var model = Mlp(1, 4, 4, 2);
        using var snapshot = TrainingSnapshot.Capture(10, model, Optimizer("SGD", model.parameters(), 0.1), SnapshotLocation.Host);

        Assert.Throws<ArgumentException>(() => store.Add(snapshot));
    }

    [Theory]
    [InlineData(300, 50, 250L, true)]     // newest at least 50 before the start
    [InlineData(260, 50, 200L, true)]
    [InlineData(120, 50, 50L, true)]
    [InlineData(40, 50, 0L, false)]       // none is 50 older: the oldest before the start
    [InlineData(0, 50, null, false)]      // none before the start at all
    [InlineData(250, 0, 250L, true)]
    public void FindRollbackTarget_MarginRule(long episodeStart, int margin, long? expected, bool expectedMarginMet)
    {
        using var store = Filled(8, 0, 50, 100, 150, 200, 250);

        var target = store.FindRollbackTarget(episodeStart, margin, out bool marginMet);

        Assert.Equal(expected, target?.Step);
        if (target is not null)
            Assert.Equal(expectedMarginMet, marginMet);
    }

    [Fact]
    public void DiscardNewerThan_DisposesTheAbandonedTrajectory()
    {
        using var store = Filled(8, 0, 50, 100, 150);
        var discarded = store.Snapshots.Skip(2).ToArray();

        Assert.Equal(2, store.DiscardNewerThan(50));

        Assert.Equal([0, 50], store.Snapshots.Select(s => s.Step));
        Assert.All(discarded, s => Assert.Throws<ObjectDisposedException>(() => s.Tensors));
    }

    [Fact]
    public void Dispose_ReleasesEverySnapshot()
    {
        var store = Filled(4, 0, 50);
        var held = store.Snapshots.ToArray();

        store.Dispose();

        Assert.Equal(0, store.Count);
        Assert.Equal(0, store.Bytes);
        Assert.All(held, s => Assert.Throws<ObjectDisposedException>(() => s.Tensors));
    }
}
