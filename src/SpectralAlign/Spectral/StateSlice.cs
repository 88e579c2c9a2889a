using static TorchSharp.torch;

namespace SpectralAlign.Spectral;

/// <summary>
/// One layer's part of its <see cref="SpectralState"/>: a tensor of its own, or units [start, start + count) of a
/// bucket's <see cref="SharedTensor"/>. The view of a shared slice is made only when someone reads <see cref="Tensor"/> (the
/// guard, a checkpoint, a fallback of the engine); the engine itself recognises its own slices and reuses the shared
/// tensor whole.
/// </summary>
internal sealed class StateSlice : IDisposable
{
    private readonly Lock _gate = new();
    private readonly SharedTensor? _source;
    private Tensor? _tensor;
    private bool _disposed;

    /// <param name="tensor">A tensor owned from now on.</param>
    public StateSlice(Tensor tensor) => _tensor = tensor;

    /// <param name="source">The bucket's tensor (one more reference is taken).</param>
    /// <param name="start">First unit (dimension 0).</param>
    /// <param name="count">Units.</param>
    public StateSlice(SharedTensor source, int start, int count)
    {
        source.AddReference();
        _source = source;
        Start = start;
        Count = count;
    }

    /// <summary>First unit in the shared tensor (0 for an own tensor).</summary>
    public int Start { get; }

    /// <summary>Units in the shared tensor (0 for an own tensor).</summary>
    public int Count { get; }

    /// <summary>The layer's tensor (for a shared slice, a view made on first use and kept).</summary>
    public Tensor Tensor
    {
        get
        {
            lock (_gate)
            {
                ObjectDisposedException.ThrowIf(_disposed, this);
                _tensor ??= _source!.Value.narrow(0, Start, Count).DetachFromDisposeScope();

                return _tensor;
            }
        }
    }

    /// <summary>A new handle of the layer's tensor (an alias of an own tensor, a view of a shared one) in the caller's
    /// dispose scope, for a read that should leave nothing behind in the state.</summary>
    public Tensor View()
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return _source is null ? _tensor!.alias() : _source.Value.narrow(0, Start, Count);
        }
    }

    /// <summary>Whether this is units [<paramref name="start"/>, +<paramref name="count"/>) of
    /// <paramref name="source"/> (so that the whole shared tensor can stand for the stacked slices).</summary>
    public bool IsSliceOf(SharedTensor source, int start, int count) => _source == source && Start == start && Count == count;

    /// <summary>The shared tensor, or <c>null</c> for an own tensor.</summary>
    public SharedTensor? Source => _source;

    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed)
                return;
            _disposed = true;
            _tensor?.Dispose();
            _tensor = null;
            _source?.Release();
        }
    }
}
