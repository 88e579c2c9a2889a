using SpectralAlign.Spectral;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace SpectralAlign.Guard.Snapshots;

/// <summary>
/// A copy of everything a rollback restores: the model's parameters and persistent buffers (exactly the entries of
/// <c>model.state_dict()</c>, detached clones on the device or the host) and the optimizer's state (TorchSharp's
/// serialised form, host memory). Owns its tensors; <see cref="Dispose"/> releases them.
/// </summary>
internal sealed class TrainingSnapshot : IDisposable
{
    private readonly Dictionary<string, Tensor> _tensors;
    private bool _disposed;

    /// <summary>A snapshot of the given copies, which it takes ownership of (<see cref="Capture"/> makes them).</summary>
    internal TrainingSnapshot(long step, Dictionary<string, Tensor> tensors, byte[] optimizerState)
    {
        Step = step;
        _tensors = tensors;
        OptimizerState = optimizerState;
        TensorBytes = tensors.Values.Sum(t => t.numel() * t.ElementSize);
    }

    /// <summary>The training step after whose optimizer update the copy was taken.</summary>
    public long Step { get; }

    /// <summary>The model's state entries by <c>state_dict()</c> key. Owned by the snapshot: do not dispose.</summary>
    public IReadOnlyDictionary<string, Tensor> Tensors
    {
        get
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return _tensors;
        }
    }

    /// <summary>The optimizer's state, as written by <see cref="OptimizerStateIO.Save"/>.</summary>
    public byte[] OptimizerState { get; }

    /// <summary>Bytes held in tensors (parameters and buffers).</summary>
    public long TensorBytes { get; }

    /// <summary>All bytes held: tensors plus the optimizer state.</summary>
    public long Bytes => TensorBytes + OptimizerState.LongLength;

    /// <summary>Copies the model's state and the optimizer's state. Reads only: training is not affected.</summary>
    /// <param name="step">The step the copy belongs to.</param>
    /// <param name="model">The model; every <c>state_dict()</c> entry is copied.</param>
    /// <param name="optimizer">The optimizer.</param>
    /// <param name="location">Where the tensor copies live.</param>
    public static TrainingSnapshot Capture(long step, nn.Module model, OptimizerHelper optimizer, SnapshotLocation location)
    {
        var tensors = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        try
        {
            using (no_grad())
            {
                foreach (var (key, live) in model.state_dict())
                    tensors.Add(key, Copy(live, location));
            }

            return new TrainingSnapshot(step, tensors, OptimizerStateIO.Save(optimizer));
        }
        catch
        {
            foreach (var t in tensors.Values)
                t.Dispose();
            throw;
        }
    }

    /// <summary>A detached copy of <paramref name="live"/> that no dispose scope owns.</summary>
    private static Tensor Copy(Tensor live, SnapshotLocation location)
    {
        using var scope = NewDisposeScope();
        var source = live.detach();
        var copy = location == SnapshotLocation.Host && source.device_type != DeviceType.CPU ? DeviceTransfer.ToHost(source) : source.clone();
        return copy.DetachFromDisposeScope();
    }

    public void Dispose()
    {
        if (_disposed)
            return;
        _disposed = true;
        foreach (var t in _tensors.Values)
            t.Dispose();
        _tensors.Clear();
    }
}
