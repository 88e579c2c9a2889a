using static TorchSharp.torch;

namespace SpectralAlign.Spectral;

/// <summary>
/// The float64 copies of the buckets' input rows (<see cref="RowAlignment"/>), kept from one measurement to the next:
/// the widened rows are the largest tensors a measurement makes (the demo model's 29 layers: 4 MiB), and a fresh one
/// each time is new memory the allocator maps, the kernel zeroes and the allocator gives back; reusing it measured
/// about 0.4–0.7 ms per measured step of the demo model on the benchmark machine. Kept only while all slots together
/// stay within <see cref="MaxBytes"/>; above that (large models, where the arithmetic dominates) each measurement
/// allocates its own, as without a workspace. One slot per bucket of a measurement: the engine runs one measurement at
/// a time.
/// </summary>
internal sealed class RowWorkspace : IDisposable
{
    /// <summary>Most bytes kept between measurements, over all slots.</summary>
    public const long MaxBytes = 64L << 20;

    private readonly List<Tensor?> _slots = [];

    /// <summary>Tensors held between measurements (0 or one per bucket).</summary>
    public int Held => _slots.Count(t => t is not null);

    /// <summary>A float64 copy of <paramref name="rows"/> (any floating dtype), in slot <paramref name="slot"/>'s kept
    /// tensor when it has the shape and device (or can be made so within <see cref="MaxBytes"/>), else a new tensor in
    /// the caller's dispose scope. The caller may overwrite it until its next call for the same slot.</summary>
    public Tensor Widen(int slot, Tensor rows)
    {
        while (_slots.Count <= slot)
            _slots.Add(null);
        var kept = _slots[slot];
        var shape = rows.shape;
        if (kept is null || !kept.shape.SequenceEqual(shape) || kept.device_type != rows.device_type || kept.device_index != rows.device_index)
        {
            kept?.Dispose();
            _slots[slot] = null;
            long bytes = shape.Aggregate(1L, (a, b) => a * b) * sizeof(double);
            if (bytes + HeldBytes() > MaxBytes)
                return rows.to(ScalarType.Float64);
            kept = _slots[slot] = empty(shape, ScalarType.Float64, rows.device).DetachFromDisposeScope();
        }

        return kept.copy_(rows);
    }

    /// <summary>Releases the kept tensors.</summary>
    public void Dispose()
    {
        foreach (var tensor in _slots)
            tensor?.Dispose();
        _slots.Clear();
    }

    private long HeldBytes() => _slots.Sum(t => t is null ? 0 : t.numel() * sizeof(double));
}
