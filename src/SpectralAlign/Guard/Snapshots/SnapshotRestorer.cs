using TorchSharp.Modules;
using static TorchSharp.torch;

namespace SpectralAlign.Guard.Snapshots;

/// <summary>
/// Restores a <see cref="TrainingSnapshot"/> into the live model and optimizer, all or nothing: the snapshot is first
/// checked against the model (same <c>state_dict()</c> keys, shapes and dtypes), then the current state is copied
/// aside on its own device, then every tensor is copied in under <c>no_grad</c> (as <c>Module.load_state_dict</c>
/// does) and the optimizer state is loaded through TorchSharp. If any of it fails, the copy taken aside is written back
/// the same way, so the model and optimizer end exactly as they were, and the failure is reported.
/// </summary>
internal static class SnapshotRestorer
{
    /// <summary>The name passed to the fault hook before the optimizer state is loaded.</summary>
    public const string OptimizerKey = "(optimizer)";

    /// <summary>Restores <paramref name="snapshot"/>. The parameter groups keep their current learning rates.</summary>
    /// <param name="snapshot">The snapshot.</param>
    /// <param name="model">The model it was taken from.</param>
    /// <param name="optimizer">The optimizer it was taken from.</param>
    /// <param name="beforeWrite">Called with each <c>state_dict()</c> key before its tensor is written, then with
    /// <see cref="OptimizerKey"/>: a seam for tests that inject a failure mid-restore.</param>
    /// <exception cref="InvalidOperationException">The snapshot does not fit the model; nothing was changed.</exception>
    /// <exception cref="SnapshotRestoreException">The restore failed midway; <see cref="SnapshotRestoreException.StateIntact"/>
    /// says whether the previous state was put back.</exception>
    public static void Restore(TrainingSnapshot snapshot, nn.Module model, OptimizerHelper optimizer, Action<string>? beforeWrite = null)
    {
        var live = model.state_dict();
        var problems = Mismatches(snapshot, live);
        if (problems.Count > 0)
            throw new InvalidOperationException($"The snapshot of step {snapshot.Step} does not fit the model ({string.Join("; ", problems)}); nothing was restored.");

        using var undo = TrainingSnapshot.Capture(snapshot.Step, model, optimizer, SnapshotLocation.Device);
        try
        {
            Write(snapshot, live, optimizer, beforeWrite);
        }
        catch (Exception failure)
        {
            try
            {
                Write(undo, live, optimizer, beforeWrite: null);
            }
            catch (Exception undoFailure)
            {
                throw new SnapshotRestoreException(
                    $"Restoring the snapshot of step {snapshot.Step} failed, and so did putting the previous state back: the model and optimizer are in an undefined state.",
                    new AggregateException(failure, undoFailure), stateIntact: false);
            }

            throw new SnapshotRestoreException(
                $"Restoring the snapshot of step {snapshot.Step} failed ({failure.Message}); the model and optimizer were left as they were.",
                failure, stateIntact: true);
        }
    }

    private static List<string> Mismatches(TrainingSnapshot snapshot, Dictionary<string, Tensor> live)
    {
        var problems = new List<string>();
        var saved = snapshot.Tensors;
        problems.AddRange(live.Keys.Where(k => !saved.ContainsKey(k)).Select(k => $"'{k}' is not in the snapshot"));
        problems.AddRange(saved.Keys.Where(k => !live.ContainsKey(k)).Select(k => $"'{k}' is no longer in the model"));
        foreach (var (key, tensor) in live)
        {
            if (!saved.TryGetValue(key, out var copy))
                continue;
            if (!copy.shape.SequenceEqual(tensor.shape))
                problems.Add($"'{key}' has shape [{string.Join(", ", tensor.shape)}], the snapshot [{string.Join(", ", copy.shape)}]");
            if (copy.dtype != tensor.dtype)
                problems.Add($"'{key}' has dtype {tensor.dtype}, the snapshot {copy.dtype}");
        }

        return problems;
    }

    private static void Write(TrainingSnapshot source, Dictionary<string, Tensor> live, OptimizerHelper optimizer, Action<string>? beforeWrite)
    {
        using (no_grad())
        {
            foreach (var (key, tensor) in live)
            {
                beforeWrite?.Invoke(key);
                tensor.copy_(source.Tensors[key]);
            }
        }

        beforeWrite?.Invoke(OptimizerKey);
        OptimizerStateIO.Load(optimizer, source.OptimizerState, keepLearningRates: true);
    }
}

/// <summary>A restore failed midway.</summary>
internal sealed class SnapshotRestoreException(string message, Exception inner, bool stateIntact) : Exception(message, inner)
{
    /// <summary>Whether the model and optimizer were put back exactly as they were before the restore.</summary>
    public bool StateIntact { get; } = stateIntact;
}
