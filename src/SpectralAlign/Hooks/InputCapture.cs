using TorchSharp;
using static TorchSharp.torch;

namespace SpectralAlign.Hooks;

/// <summary>
/// Holds the input rows a layer saw on the current measured step: a detached, subsampled copy on the input's
/// device, at most <c>capacity</c> rows, filled in call order (with gradient accumulation the first micro-batch
/// usually fills it). Thread-safe; owns its tensors until <see cref="Take"/> hands them over.
/// </summary>
internal sealed class InputCapture(int capacity, int inFeatures, int seed) : IDisposable
{
    private readonly object _sync = new();
    private readonly RowSampler _sampler = new(seed);
    private readonly List<Tensor> _parts = [];
    private int _rows;
    private long _seenRows;
    private bool _disposed;

    public int InFeatures => inFeatures;

    /// <summary>Counts the rows of <paramref name="input"/> and, while there is room, copies a uniform subsample of the rows of <paramref name="input"/> (any rank ≥ 1, last dimension
    /// = in_features). Call under <c>no_grad</c>; never modifies the input.</summary>
    public void Add(Tensor input)
    {
        lock (_sync)
        {
            if (_disposed)
                return;
            if (_rows >= capacity)
            {
                _seenRows += input.numel() / inFeatures;
                return;
            }

            using var scope = NewDisposeScope();
            var rows = input.detach().reshape(-1, inFeatures);
            long count = rows.shape[0];
            _seenRows += count;
            if (count == 0)
                return;

            int take = (int)Math.Min(count, capacity - _rows);
            Tensor copy;
            if (take == count)
            {
                // Copy: the caller's activation may be modified in place later (e.g. an in-place ReLU).
                copy = rows.clone();
            }
            else
            {
                var index = tensor(_sampler.Sample(count, take), dtype: ScalarType.Int64, device: rows.device);
                copy = rows.index_select(0, index);
            }

            _parts.Add(copy.DetachFromDisposeScope());
            _rows += take;
        }
    }

    /// <summary>Hands over the captured rows (or <c>null</c> when nothing was captured) and resets the capture.</summary>
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
                rows = cat(_parts, 0).DetachFromDisposeScope();
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
            foreach (var part in _parts)
                part.Dispose();
            _parts.Clear();
            _rows = 0;
        }
    }
}
