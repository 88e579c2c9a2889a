using System.Runtime.InteropServices;
using static TorchSharp.torch;

namespace SpectralAlign.Spectral;

/// <summary>
/// Reads a CPU tensor's elements where they are. A CPU tensor's storage is host memory, so this is neither a copy nor
/// a device transfer (<see cref="DeviceTransfer"/> counts those); a tensor on any other device is refused. The span is
/// valid only while the tensor is alive and unmodified: callers read it within the measurement that owns the tensor.
/// </summary>
internal static class HostMemory
{
    /// <summary>The elements of <paramref name="tensor"/> in row-major order.</summary>
    /// <exception cref="ArgumentException">The tensor is not a contiguous CPU tensor of <typeparamref name="T"/>'s
    /// dtype.</exception>
    public static ReadOnlySpan<T> Span<T>(Tensor tensor)
        where T : unmanaged
    {
        var expected = typeof(T) == typeof(float) ? ScalarType.Float32 : typeof(T) == typeof(double) ? ScalarType.Float64 : (ScalarType?)null;
        if (tensor.device_type != TorchSharp.DeviceType.CPU || !tensor.is_contiguous() || tensor.dtype != expected)
            throw new ArgumentException($"Host memory is read from contiguous CPU tensors of {typeof(T).Name}; this one is {tensor.dtype} on {tensor.device}{(tensor.is_contiguous() ? "" : ", not contiguous")}.", nameof(tensor));
        // TorchSharp's bytes of a contiguous CPU tensor are a span over its storage, not a copy.
        return MemoryMarshal.Cast<byte, T>(tensor.bytes);
    }
}
