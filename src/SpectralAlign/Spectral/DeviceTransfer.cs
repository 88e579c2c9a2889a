using TorchSharp.Modules;
using static TorchSharp.torch;

namespace SpectralAlign.Spectral;

/// <summary>
/// The library's only way to bring tensor data to the host (<c>.cpu()</c>, <c>data&lt;T&gt;()</c>): every copy is
/// counted, so tests can hold the library to its budget (one transfer per measured step, none in hooks or on
/// unmeasured steps); a test on the compiled library (HostCopyTests) fails if library code copies to the host any
/// other way. A copy from a GPU waits for the device, so each one is a synchronisation.
/// </summary>
internal static class DeviceTransfer
{
    private static long s_count;

    /// <summary>Transfers so far, process-wide.</summary>
    public static long Count => Interlocked.Read(ref s_count);

    /// <summary>A host copy of <paramref name="tensor"/> (in the caller's dispose scope); counts one transfer.</summary>
    public static Tensor ToHost(Tensor tensor)
    {
        Interlocked.Increment(ref s_count);
        return tensor.cpu();
    }

    /// <summary>The value of a one-element tensor; counts one transfer.</summary>
    public static T Item<T>(Tensor tensor)
        where T : unmanaged
    {
        Interlocked.Increment(ref s_count);
        return tensor.item<T>();
    }

    /// <summary>The value of a one-element tensor of any real dtype as a double (what <c>ToDouble()</c> gives, without
    /// the temporary Scalar TorchSharp makes there, see <see cref="Scalars"/>); counts one transfer.</summary>
    public static double Number(Tensor tensor)
    {
        using var value = tensor.to(ScalarType.Float64);
        return Item<double>(value);
    }

    /// <summary>Copies the elements of <paramref name="tensor"/> (as float64) in row-major order into the start of
    /// <paramref name="destination"/> (at least as long as the tensor); counts one transfer. A caller that reuses its
    /// buffer spares the host a fresh allocation per copy (a large one is new, page-faulting memory each time).</summary>
    /// <returns>The number of elements copied.</returns>
    public static int CopyTo(Tensor tensor, double[] destination)
    {
        ArgumentNullException.ThrowIfNull(destination);
        Interlocked.Increment(ref s_count);
        using var host = tensor.to(ScalarType.Float64).cpu().contiguous();
        long count = host.numel();
        if (count > destination.Length)
            throw new ArgumentException($"The destination holds {destination.Length} values; the tensor has {count}.", nameof(destination));
        if (count > 0)
            host.data<double>().CopyTo(destination);
        return (int)count;
    }

    /// <summary>Writes an optimizer's whole state with TorchSharp's own serialisation, which copies each state tensor
    /// to the host in turn (momentum buffers, moments: several synchronisations on a GPU); counts one transfer per
    /// call. Only the guard's snapshots use it, never a measured step.</summary>
    public static void SaveOptimizerState(OptimizerHelper optimizer, BinaryWriter writer)
    {
        ArgumentNullException.ThrowIfNull(optimizer);
        Interlocked.Increment(ref s_count);
        optimizer.save_state_dict(writer);
    }

    /// <summary>The elements of <paramref name="tensor"/> in row-major order, as a new array; counts one transfer.</summary>
    public static T[] Values<T>(Tensor tensor)
        where T : unmanaged
    {
        Interlocked.Increment(ref s_count);
        using var host = tensor.cpu().contiguous();
        return host.data<T>().ToArray();
    }
}
