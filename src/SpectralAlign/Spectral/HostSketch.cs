using System.Numerics;
using static TorchSharp.torch;

namespace SpectralAlign.Spectral;

/// <summary>
/// The update sketch's distance on the host, for a bucket on the CPU (see <see cref="HostRows"/>): per layer
/// ‖(W_t − W_prev)Ω‖²_F / r from its units of the current and previous sketch tensors of a run, read where they are,
/// in float64 — instead of a difference, a norm, a conversion and a concatenation per run of weights on the device. The
/// device path computes the same sum from float32 sketches in float32 (its norm), so the two agree to float32 rounding
/// of the estimate, whose own spread is about √(2/r) (<see cref="UpdateSketch"/>).
/// </summary>
internal static class HostSketch
{
    /// <summary>For consecutive layers of <paramref name="groups"/> units each in a run's (units, r, m) sketches
    /// (float32 or float64 each, contiguous, on the CPU): Σ (a − b)² over each layer's units, divided by
    /// r = <see cref="UpdateSketch.Columns"/>, into <paramref name="output"/> (one value per layer).</summary>
    public static void SquaredDistances(Tensor current, Tensor previous, int groups, Span<double> output)
    {
        var shape = current.shape;
        int perLayer = checked((int)(groups * shape[1] * shape[2]));
        if (current.dtype == ScalarType.Float32 && previous.dtype == ScalarType.Float32)
        {
            var a = HostMemory.Span<float>(current);
            var b = HostMemory.Span<float>(previous);
            for (int j = 0; j < output.Length; j++)
                output[j] = RowKernels.SquaredDistance(a.Slice(j * perLayer, perLayer), b.Slice(j * perLayer, perLayer)) / UpdateSketch.Columns;
            return;
        }

        if (current.dtype == ScalarType.Float64)
            Distances(HostMemory.Span<double>(current), previous, perLayer, output);
        else
            Distances(HostMemory.Span<float>(current), previous, perLayer, output);
    }

    /// <summary>The per-layer distances when either sketch is float64 (weights the engine rescales, or a previous
    /// sketch stacked in float64): element by element, without a widened copy.</summary>
    private static void Distances<T>(ReadOnlySpan<T> current, Tensor previous, int perLayer, Span<double> output)
        where T : unmanaged, INumberBase<T>
    {
        if (previous.dtype == ScalarType.Float64)
            Distances(current, HostMemory.Span<double>(previous), perLayer, output);
        else
            Distances(current, HostMemory.Span<float>(previous), perLayer, output);
    }

    private static void Distances<T, TPrevious>(ReadOnlySpan<T> current, ReadOnlySpan<TPrevious> previous, int perLayer, Span<double> output)
        where T : unmanaged, INumberBase<T>
        where TPrevious : unmanaged, INumberBase<TPrevious>
    {
        for (int j = 0; j < output.Length; j++)
            output[j] = RowKernels.SquaredDistance(current.Slice(j * perLayer, perLayer), previous.Slice(j * perLayer, perLayer), 0, 0) / UpdateSketch.Columns;
    }
}
