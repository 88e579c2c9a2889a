using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
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
                output[j] = Distance(a.Slice(j * perLayer, perLayer), b.Slice(j * perLayer, perLayer)) / UpdateSketch.Columns;
            return;
        }

        var wideA = Widened(current);
        var wideB = Widened(previous);
        for (int j = 0; j < output.Length; j++)
            output[j] = Distance(wideA.AsSpan(j * perLayer, perLayer), wideB.AsSpan(j * perLayer, perLayer)) / UpdateSketch.Columns;
    }

    /// <summary>Σ (a − b)², float32 values widened to float64 (exact) before they are subtracted.</summary>
    private static double Distance(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        int k = 0;
        double sum = 0;
        if (Vector256.IsHardwareAccelerated && a.Length >= Vector256<float>.Count)
        {
            ref float first = ref MemoryMarshal.GetReference(a);
            ref float second = ref MemoryMarshal.GetReference(b);
            Vector256<double> low = default, high = default;
            for (; k <= a.Length - Vector256<float>.Count; k += Vector256<float>.Count)
            {
                var (a0, a1) = Vector256.Widen(Vector256.LoadUnsafe(ref first, (nuint)k));
                var (b0, b1) = Vector256.Widen(Vector256.LoadUnsafe(ref second, (nuint)k));
                var d0 = a0 - b0;
                var d1 = a1 - b1;
                low = Vector256.FusedMultiplyAdd(d0, d0, low);
                high = Vector256.FusedMultiplyAdd(d1, d1, high);
            }

            sum = Vector256.Sum(low + high);
        }

        for (; k < a.Length; k++)
        {
            double d = (double)a[k] - b[k];
            sum += d * d;
        }

        return sum;
    }

    /// <inheritdoc cref="Distance(ReadOnlySpan{float}, ReadOnlySpan{float})"/>
    private static double Distance(ReadOnlySpan<double> a, ReadOnlySpan<double> b)
    {
        double sum = 0;
        for (int k = 0; k < a.Length; k++)
        {
            double d = a[k] - b[k];
            sum += d * d;
        }

        return sum;
    }

    /// <summary>A float32 or float64 sketch's elements as float64 (a copy; only for the rescaled path, whose sketches
    /// are float64, and for a previous sketch stacked in float64).</summary>
    private static double[] Widened(Tensor sketch)
    {
        if (sketch.dtype == ScalarType.Float64)
            return HostMemory.Span<double>(sketch).ToArray();
        var values = HostMemory.Span<float>(sketch);
        var wide = new double[values.Length];
        for (int k = 0; k < values.Length; k++)
            wide[k] = values[k];
        return wide;
    }
}
