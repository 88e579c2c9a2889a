using System.Runtime.InteropServices;
using SpectralAlign.Spectral;
using TorchSharp;
using static TorchSharp.torch;

namespace SpectralAlign.Hooks;

/// <summary>
/// Holds the input rows one view saw on the current measured step: a detached, subsampled (G, rows, n) copy on the
/// input's device, at most <c>capacity</c> rows, filled in call order (with gradient accumulation the first
/// micro-batch usually fills it). Thread-safe; owns its tensors until <see cref="Take"/> hands them over.
/// </summary>
internal sealed class InputCapture(string layer, int capacity, int seed) : IDisposable
{
    private readonly object _sync = new();
    private readonly List<Tensor> _parts = [];
    private readonly ulong _layerHash = StableHash.Fnv1a(layer);
    private readonly RowStream _random = new(0);
    private readonly HashSet<long> _scratch = [];
    private Tensor? _indices;            // (capacity) int64 on the host, reused for every sample
    private long _randomStep = -1;
    private int _rows;
    private long _seenRows;
    private bool _disposed;

    /// <summary>Counts the rows of <paramref name="rows"/> (G, N, n) and, while there is room, copies a uniform
    /// subsample of them, then applies <paramref name="transform"/> to the copy. Call under <c>no_grad</c>; never
    /// modifies the input. Allocates no managed memory; the index tensor is reused.</summary>
    public void Add(long step, Tensor rows, Func<Tensor, Tensor>? transform = null)
    {
        lock (_sync)
        {
            if (_disposed)
                return;
            long count = rows.shape[1];
            _seenRows += count;
            if (_rows >= capacity || count == 0)
                return;

            if (_randomStep != step)
            {
                _random.Reset(RowSampler.StreamSeed(seed, _layerHash, step));
                _randomStep = step;
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
                _indices ??= zeros(capacity, dtype: ScalarType.Int64).DetachFromDisposeScope();
                RowSampler.Sample(_random, count, MemoryMarshal.Cast<byte, long>(_indices.bytes)[..take], _scratch);
                var index = _indices.narrow(0, 0, take);
                if (rows.device_type != DeviceType.CPU)
                    index = index.to(rows.device);
                copy = rows.detach().index_select(1, index);
            }

            if (transform is not null)
                copy = transform(copy);
            _parts.Add(copy.DetachFromDisposeScope());
            _rows += take;
        }
    }

    /// <summary>Hands over the captured (G, rows, n) tensor, owned by the caller (or <c>null</c> when nothing was
    /// captured), with the number of rows seen before subsampling, and resets the capture.</summary>
    public (Tensor? Rows, long SeenRows) Take()
    {
        lock (_sync)
        {
            long seen = _seenRows;
            _seenRows = 0;
            _rows = 0;
            if (_parts.Count == 0)
                return (null, seen);

            Tensor rows;
            if (_parts.Count == 1)
            {
                rows = _parts[0];
            }
            else
            {
                using (var scope = NewDisposeScope())
                    rows = cat(_parts.Select(p => p.to(_parts[0].dtype)).ToList(), 1).DetachFromDisposeScope();
                foreach (var part in _parts)
                    part.Dispose();
            }

            _parts.Clear();
            return (rows, seen);
        }
    }

    public void Dispose()
    {
        lock (_sync)
        {
            _disposed = true;
            _indices?.Dispose();
            _indices = null;
            foreach (var part in _parts)
                part.Dispose();
            _parts.Clear();
            _rows = 0;
        }
    }
}
