using static TorchSharp.torch;

namespace SpectralAlign.Hooks;

/// <summary>
/// One monitor's CPU int64 index tensor for <see cref="RowSampler"/>'s draws: one tensor over a host array (they share
/// memory), made at the first capture of a measured step and reused by every later capture of the step (each draw
/// overwrites the array under this object's lock, and index_select on the CPU has read it before the lock is left),
/// instead of one <c>frombuffer</c> tensor (a pinned handle, a deleter, a native tensor) per hooked call.
/// <see cref="Release"/> at the end of each step, so that nothing is held between steps; after <see cref="Dispose"/>
/// every call makes its own tensor again.
/// </summary>
internal sealed class HostRowIndex : IDisposable
{
    private readonly object _sync = new();
    private long[]? _values;
    private Tensor? _tensor;
    private bool _disposed;

    /// <summary>The rows of <paramref name="rows"/> (G, N, n, on the CPU; built for those rows only) at the first <paramref name="take"/>
    /// entries of randperm(N) for <paramref name="seed"/> (see <see cref="RowSampler.Draw"/>), as a new tensor in the
    /// caller's dispose scope. Thread-safe.</summary>
    public Tensor Select(RowSource rows, ulong seed, long count, int take)
    {
        lock (_sync)
        {
            if (_disposed)
                return SelectOnce(rows, seed, count, take);

            var values = _values;
            if (values is null || values.Length < take)
            {
                ReleaseTensor();
                _values = values = new long[take];
            }

            RowSampler.Draw(seed, count, values.AsSpan(0, take));
            var all = _tensor ??= frombuffer(values, ScalarType.Int64).DetachFromDisposeScope();
            if (take == values.Length)
                return rows.Select(all);
            using var index = all.narrow(0, 0, take);
            return rows.Select(index);
        }
    }

    /// <summary><see cref="Select"/> with an index tensor of its own (in the caller's dispose scope).</summary>
    public static Tensor SelectOnce(RowSource rows, ulong seed, long count, int take)
    {
        var values = new long[take];
        RowSampler.Draw(seed, count, values);
        using var index = frombuffer(values, ScalarType.Int64);
        return rows.Select(index);
    }

    /// <summary>Disposes the index tensor, if any (the next <see cref="Select"/> makes a new one).</summary>
    public void Release()
    {
        lock (_sync)
            ReleaseTensor();
    }

    public void Dispose()
    {
        lock (_sync)
        {
            _disposed = true;
            ReleaseTensor();
        }
    }

    private void ReleaseTensor()
    {
        _tensor?.Dispose();
        _tensor = null;
    }
}
