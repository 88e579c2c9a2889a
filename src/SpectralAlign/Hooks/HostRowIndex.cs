using static TorchSharp.torch;

namespace SpectralAlign.Hooks;

/// <summary>
/// This thread's CPU int64 index tensor for <see cref="RowSampler"/>'s draws: one tensor over a host array (they share
/// memory), made at the first capture of a measured step and reused by every later capture of the step on this thread
/// (each draw overwrites the array, and index_select on the CPU has read it before the capture returns), instead of
/// one <c>frombuffer</c> tensor (a pinned handle, a deleter, a native tensor) per hooked call.
/// <see cref="Release"/> at the end of each step, so that nothing is held between steps on the thread that steps the
/// monitor (a thread that only runs forward passes keeps at most one such tensor until it exits).
/// </summary>
internal static class HostRowIndex
{
    [ThreadStatic]
    private static long[]? t_values;

    [ThreadStatic]
    private static Tensor? t_tensor;

    /// <summary>The rows of <paramref name="rows"/> (G, N, n, on the CPU) at the first <paramref name="take"/>
    /// entries of randperm(N) for <paramref name="seed"/> (see <see cref="RowSampler.Draw"/>), as a new tensor in the
    /// caller's dispose scope.</summary>
    public static Tensor Select(Tensor rows, ulong seed, long count, int take)
    {
        var values = t_values;
        if (values is null || values.Length < take)
        {
            Release();
            t_values = values = new long[take];
        }

        RowSampler.Draw(seed, count, values.AsSpan(0, take));
        var all = t_tensor ??= frombuffer(values, ScalarType.Int64).DetachFromDisposeScope();
        if (take == values.Length)
            return rows.index_select(1, all);
        using var index = all.narrow(0, 0, take);
        return rows.index_select(1, index);
    }

    /// <summary>Disposes this thread's index tensor, if any (the next <see cref="Select"/> makes a new one).</summary>
    public static void Release()
    {
        t_tensor?.Dispose();
        t_tensor = null;
    }
}
