using System.Diagnostics;
using Microsoft.Extensions.Logging;
using SpectralAlign.Telemetry;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace SpectralAlign.Guard.Snapshots;

/// <summary>
/// The guard's snapshots of the model and optimizer: taking one (timed, logged and recorded; a failure keeps the old
/// ones), choosing the rollback target and rolling back to it (all or nothing; a failure is logged and reported, never
/// thrown).
/// </summary>
internal sealed class SnapshotKeeper(nn.Module model, OptimizerHelper optimizer, TrainingGuardOptions options, ILogger logger) : IDisposable
{
    private readonly SnapshotStore _store = new(options.SnapshotCount);

    /// <summary>Snapshots held.</summary>
    public int Count => _store.Count;

    /// <summary>Bytes held by the snapshots.</summary>
    public long Bytes => _store.Bytes;

    /// <summary>The steps of the snapshots held, oldest first.</summary>
    public IReadOnlyList<long> Steps => _store.Snapshots.Select(s => s.Step).ToArray();

    /// <summary>Test seam: called before each tensor of a rollback is written (see <see cref="SnapshotRestorer"/>).</summary>
    public Action<string>? RestoreFault { get; set; }

    /// <summary>Snapshots the model and optimizer at <paramref name="step"/>.</summary>
    public void Take(long step)
    {
        long start = Stopwatch.GetTimestamp();
        try
        {
            _store.Add(TrainingSnapshot.Capture(step, model, optimizer, options.SnapshotLocation));
        }
#pragma warning disable CA1031 // A failed snapshot (e.g. out of memory) must not stop training; the old ones stay.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            Log.GuardSnapshotFailed(logger, step, ex);
            return;
        }

        double ms = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        long bytes = _store.Bytes;
        Log.GuardSnapshot(logger, step, ms, _store.Count, bytes);
        GuardTelemetry.SnapshotTaken(ms, bytes, logger);
    }

    /// <summary>The snapshot to roll back to for an episode that began at <paramref name="episodeStart"/> (see
    /// <see cref="SnapshotStore.FindRollbackTarget"/>).</summary>
    public TrainingSnapshot? FindRollbackTarget(long episodeStart, out bool marginMet) =>
        _store.FindRollbackTarget(episodeStart, options.RollbackMargin, out marginMet);

    /// <summary>Rolls back to <paramref name="target"/> at <paramref name="step"/>: whether it did, and what went
    /// differently from the policy.</summary>
    public (bool Done, string? Problem) RollBack(long step, TrainingSnapshot target, bool marginMet)
    {
        try
        {
            SnapshotRestorer.Restore(target, model, optimizer, RestoreFault);
        }
        catch (SnapshotRestoreException ex)
        {
            Log.GuardRollbackFailed(logger, target.Step, step, ex.StateIntact, ex);
            return (false, $"the rollback failed: {ex.Message}");
        }
        catch (InvalidOperationException ex)
        {
            Log.GuardRollbackFailed(logger, target.Step, step, true, ex);
            return (false, $"the rollback failed: {ex.Message}");
        }

        _store.DiscardNewerThan(target.Step);
        return (true, marginMet ? null : $"rolled back to the oldest snapshot (step {target.Step}): none is {options.RollbackMargin} steps older than the episode");
    }

    /// <summary>Releases every snapshot.</summary>
    public void Clear() => _store.Clear();

    /// <summary>Releases every snapshot.</summary>
    public void Dispose() => _store.Dispose();
}
