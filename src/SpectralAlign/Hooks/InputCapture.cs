using SpectralAlign.Spectral;
using TorchSharp;
using static TorchSharp.torch;

namespace SpectralAlign.Hooks;

/// <summary>
/// Holds the input rows one view saw on the current measured step: a detached, subsampled (G, rows, n) copy on the
/// input's device, at most <c>capacity</c> rows, filled in call order (with gradient accumulation the first
/// micro-batch usually fills it). The sample is a uniform one without replacement (every subset of the kept size
/// equally likely), drawn on the input's device from a private generator reseeded from (seed, layer, step) — never
/// torch's global generator, and no index crosses between host and device; so a run resumed from a checkpoint draws
/// the same rows. Thread-safe; owns its tensors until <see cref="Take"/> hands them over.
/// </summary>
internal sealed class InputCapture(string layer, int capacity, int seed) : IDisposable
{
    private readonly object _sync = new();
    private readonly List<(Tensor Rows, RowRecovery? Recovery)> _parts = [];
    private readonly ulong _layerHash = StableHash.Fnv1a(layer);
    private Generator? _generator;
    private long _randomStep = -1;
    private int _rows;
    private long _seenRows;
    private bool _disposed;

    /// <summary>Counts the rows of <paramref name="rows"/> (G, N, n) and, while there is room, copies a uniform
    /// subsample of them. <paramref name="recovery"/>, if given, is applied to the copy at <see cref="Take"/> and then
    /// disposed (at once when nothing is kept). Call under <c>no_grad</c>; never modifies the input.</summary>
    public void Add(long step, Tensor rows, RowRecovery? recovery = null)
    {
        lock (_sync)
        {
            long count = rows.shape[1];
            if (!_disposed)
                _seenRows += count;
            if (_disposed || _rows >= capacity || count == 0)
            {
                recovery?.Dispose();
                return;
            }

            using var scope = NewDisposeScope();
            int take = (int)Math.Min(count, capacity - _rows);
            // Always a copy: the caller's activation may be modified in place later (e.g. an in-place ReLU).
            Tensor copy;
            if (take == count)
            {
                copy = rows.detach().clone();
            }
            else
            {
                var index = randperm(count, dtype: ScalarType.Int64, device: rows.device, generator: Generator(rows.device, step)).narrow(0, 0, take);
                copy = rows.detach().index_select(1, index);
            }

            _parts.Add((copy.DetachFromDisposeScope(), recovery));
            _rows += take;
        }
    }

    /// <summary>The private generator on <paramref name="device"/>, reseeded at the first sample of each step (later
    /// calls of the same step continue its stream).</summary>
    private Generator Generator(Device device, long step)
    {
        if (_generator is null || _generator.device.type != device.type || _generator.device.index != device.index)
        {
            _generator?.Dispose();
            _generator = new Generator(0, device);
            _randomStep = -1;
        }

        if (_randomStep != step)
        {
            _generator.manual_seed((long)StableHash.Mix((ulong)(uint)seed, _layerHash, (ulong)step));
            _randomStep = step;
        }

        return _generator;
    }

    /// <summary>Hands over the captured (G, rows, n) tensor, owned by the caller (or <c>null</c> when nothing was
    /// captured), with the number of rows seen before subsampling, and resets the capture. Runs the pending
    /// recoveries.</summary>
    public (Tensor? Rows, long SeenRows) Take()
    {
        lock (_sync)
        {
            long seen = _seenRows;
            _seenRows = 0;
            _rows = 0;
            if (_parts.Count == 0)
                return (null, seen);

            try
            {
                using var scope = NewDisposeScope();
                using var noGrad = no_grad();
                var parts = _parts.Select(p => p.Recovery is null ? p.Rows : p.Recovery.Apply(p.Rows)).ToList();
                var rows = parts.Count == 1 ? parts[0] : cat(parts.Select(p => p.to(parts[0].dtype)).ToList(), 1);
                if (ReferenceEquals(rows, _parts[0].Rows))
                    return (rows, seen);   // handed over as it is: not disposed below
                return (rows.DetachFromDisposeScope(), seen);
            }
            finally
            {
                Release(keepFirst: _parts.Count == 1 && _parts[0].Recovery is null);
            }
        }
    }

    private void Release(bool keepFirst)
    {
        for (int i = 0; i < _parts.Count; i++)
        {
            if (i > 0 || !keepFirst)
                _parts[i].Rows.Dispose();
            _parts[i].Recovery?.Dispose();
        }

        _parts.Clear();
    }

    public void Dispose()
    {
        lock (_sync)
        {
            _disposed = true;
            Release(keepFirst: false);
            _generator?.Dispose();
            _generator = null;
            _rows = 0;
        }
    }
}
