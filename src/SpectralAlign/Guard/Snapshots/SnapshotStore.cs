namespace SpectralAlign.Guard.Snapshots;

/// <summary>
/// The snapshots a guard keeps: at most <see cref="Capacity"/>, oldest evicted first, each disposed when evicted,
/// discarded or when the store is disposed. Counts the bytes it holds.
/// </summary>
internal sealed class SnapshotStore(int capacity) : IDisposable
{
    private readonly List<TrainingSnapshot> _snapshots = [];

    public int Capacity { get; } = capacity > 0 ? capacity : throw new ArgumentOutOfRangeException(nameof(capacity), capacity, "At least one snapshot must be kept.");

    public int Count => _snapshots.Count;

    /// <summary>Bytes held by all snapshots (tensors and optimizer state).</summary>
    public long Bytes => _snapshots.Sum(s => s.Bytes);

    /// <summary>The snapshots, oldest first.</summary>
    public IReadOnlyList<TrainingSnapshot> Snapshots => _snapshots;

    /// <summary>Adds a snapshot (taking ownership), evicting and disposing the oldest beyond the capacity.</summary>
    public void Add(TrainingSnapshot snapshot)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        if (_snapshots.Count > 0 && snapshot.Step <= _snapshots[^1].Step)
            throw new ArgumentException($"Snapshots are added in step order (newest is step {_snapshots[^1].Step}, this one step {snapshot.Step}).", nameof(snapshot));
        _snapshots.Add(snapshot);
        while (_snapshots.Count > Capacity)
        {
            _snapshots[0].Dispose();
            _snapshots.RemoveAt(0);
        }
    }

    /// <summary>
    /// The rollback target for an episode that started at <paramref name="episodeStart"/>: the newest snapshot at
    /// least <paramref name="margin"/> steps older than the start; failing that, the oldest snapshot taken before the
    /// start (<paramref name="marginMet"/> is then false); <c>null</c> when every snapshot is from the episode itself.
    /// </summary>
    public TrainingSnapshot? FindRollbackTarget(long episodeStart, int margin, out bool marginMet)
    {
        for (int i = _snapshots.Count - 1; i >= 0; i--)
        {
            if (_snapshots[i].Step <= episodeStart - margin)
            {
                marginMet = true;
                return _snapshots[i];
            }
        }

        marginMet = false;
        return _snapshots.Count > 0 && _snapshots[0].Step < episodeStart ? _snapshots[0] : null;
    }

    /// <summary>Disposes and forgets every snapshot newer than <paramref name="step"/> (a trajectory abandoned by a
    /// rollback to that step).</summary>
    /// <returns>How many were discarded.</returns>
    public int DiscardNewerThan(long step)
    {
        int removed = 0;
        while (_snapshots.Count > 0 && _snapshots[^1].Step > step)
        {
            _snapshots[^1].Dispose();
            _snapshots.RemoveAt(_snapshots.Count - 1);
            removed++;
        }

        return removed;
    }

    /// <summary>Disposes and forgets every snapshot.</summary>
    public void Clear() => DiscardNewerThan(long.MinValue);

    public void Dispose()
    {
        foreach (var s in _snapshots)
            s.Dispose();
        _snapshots.Clear();
    }
}
