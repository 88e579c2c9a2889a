using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace SpectralAlign.Spectral;

/// <summary>
/// The per-row arithmetic of <see cref="HostRows"/>: one pass over a row for its largest |element| and Σx², adding a
/// row to a float64 sum, and one pass for two dot products with float64 vectors. Every float32 element is widened to
/// float64 (exact) before it is multiplied or added, so the float32 and float64 rows are summed in float64 alike.
/// Eight float32 (four float64) elements per step where <see cref="Vector256"/> is accelerated, a scalar loop for the
/// rest and elsewhere; the lanes' partial sums are added at the end, so the order of the additions (not their
/// precision) differs from a sequential sum.
/// </summary>
internal static class RowKernels
{
    /// <summary>The largest |element| and the sum of squares of a row. For a row with a NaN or ∞ the sum is not
    /// finite and the largest |element| is not defined (callers handle such rows apart).</summary>
    public static (double Max, double Squares) MaxAndSquares(ReadOnlySpan<float> row)
    {
        int k = 0;
        double max = 0, squares = 0;
        if (Vector256.IsHardwareAccelerated && row.Length >= Vector256<float>.Count)
        {
            ref float start = ref MemoryMarshal.GetReference(row);
            var most = Vector256<float>.Zero;
            Vector256<double> low = Vector256<double>.Zero, high = Vector256<double>.Zero;
            for (; k <= row.Length - Vector256<float>.Count; k += Vector256<float>.Count)
            {
                var x = Vector256.LoadUnsafe(ref start, (nuint)k);
                most = Vector256.Max(most, Vector256.Abs(x));
                var (lower, upper) = Vector256.Widen(x);
                low += lower * lower;
                high += upper * upper;
            }

            for (int lane = 0; lane < Vector256<float>.Count; lane++)
                max = Math.Max(max, most.GetElement(lane));
            squares = Vector256.Sum(low + high);
        }

        for (; k < row.Length; k++)
        {
            double x = row[k];
            max = Math.Max(max, Math.Abs(x));
            squares += x * x;
        }

        return (max, squares);
    }

    /// <inheritdoc cref="MaxAndSquares(ReadOnlySpan{float})"/>
    public static (double Max, double Squares) MaxAndSquares(ReadOnlySpan<double> row)
    {
        int k = 0;
        double max = 0, squares = 0;
        if (Vector256.IsHardwareAccelerated && row.Length >= Vector256<double>.Count)
        {
            ref double start = ref MemoryMarshal.GetReference(row);
            Vector256<double> most = Vector256<double>.Zero, sum = Vector256<double>.Zero;
            for (; k <= row.Length - Vector256<double>.Count; k += Vector256<double>.Count)
            {
                var x = Vector256.LoadUnsafe(ref start, (nuint)k);
                most = Vector256.Max(most, Vector256.Abs(x));
                sum += x * x;
            }

            for (int lane = 0; lane < Vector256<double>.Count; lane++)
                max = Math.Max(max, most.GetElement(lane));
            squares = Vector256.Sum(sum);
        }

        for (; k < row.Length; k++)
        {
            double x = row[k];
            max = Math.Max(max, Math.Abs(x));
            squares += x * x;
        }

        return (max, squares);
    }

    /// <summary>sum += row, element by element (row widened to float64).</summary>
    public static void Accumulate(Span<double> sum, ReadOnlySpan<float> row)
    {
        int k = 0;
        if (Vector256.IsHardwareAccelerated && row.Length >= Vector256<float>.Count)
        {
            ref float start = ref MemoryMarshal.GetReference(row);
            ref double total = ref MemoryMarshal.GetReference(sum);
            for (; k <= row.Length - Vector256<float>.Count; k += Vector256<float>.Count)
            {
                var (lower, upper) = Vector256.Widen(Vector256.LoadUnsafe(ref start, (nuint)k));
                (Vector256.LoadUnsafe(ref total, (nuint)k) + lower).StoreUnsafe(ref total, (nuint)k);
                (Vector256.LoadUnsafe(ref total, (nuint)(k + Vector256<double>.Count)) + upper).StoreUnsafe(ref total, (nuint)(k + Vector256<double>.Count));
            }
        }

        for (; k < row.Length; k++)
            sum[k] += row[k];
    }

    /// <inheritdoc cref="Accumulate(Span{double}, ReadOnlySpan{float})"/>
    public static void Accumulate(Span<double> sum, ReadOnlySpan<double> row)
    {
        int k = 0;
        if (Vector256.IsHardwareAccelerated && row.Length >= Vector256<double>.Count)
        {
            ref double start = ref MemoryMarshal.GetReference(row);
            ref double total = ref MemoryMarshal.GetReference(sum);
            for (; k <= row.Length - Vector256<double>.Count; k += Vector256<double>.Count)
                (Vector256.LoadUnsafe(ref total, (nuint)k) + Vector256.LoadUnsafe(ref start, (nuint)k)).StoreUnsafe(ref total, (nuint)k);
        }

        for (; k < row.Length; k++)
            sum[k] += row[k];
    }

    /// <summary>row·a and row·b in float64 (a, b at least as long as the row).</summary>
    public static (double A, double B) Dots(ReadOnlySpan<float> row, ReadOnlySpan<double> a, ReadOnlySpan<double> b)
    {
        int k = 0;
        double dotA = 0, dotB = 0;
        if (Vector256.IsHardwareAccelerated && row.Length >= Vector256<float>.Count)
        {
            ref float start = ref MemoryMarshal.GetReference(row);
            ref double first = ref MemoryMarshal.GetReference(a);
            ref double second = ref MemoryMarshal.GetReference(b);
            Vector256<double> sumA = Vector256<double>.Zero, sumB = Vector256<double>.Zero;
            for (; k <= row.Length - Vector256<float>.Count; k += Vector256<float>.Count)
            {
                var (lower, upper) = Vector256.Widen(Vector256.LoadUnsafe(ref start, (nuint)k));
                nuint next = (nuint)(k + Vector256<double>.Count);
                sumA += (lower * Vector256.LoadUnsafe(ref first, (nuint)k)) + (upper * Vector256.LoadUnsafe(ref first, next));
                sumB += (lower * Vector256.LoadUnsafe(ref second, (nuint)k)) + (upper * Vector256.LoadUnsafe(ref second, next));
            }

            dotA = Vector256.Sum(sumA);
            dotB = Vector256.Sum(sumB);
        }

        for (; k < row.Length; k++)
        {
            double x = row[k];
            dotA += x * a[k];
            dotB += x * b[k];
        }

        return (dotA, dotB);
    }

    /// <inheritdoc cref="Dots(ReadOnlySpan{float}, ReadOnlySpan{double}, ReadOnlySpan{double})"/>
    public static (double A, double B) Dots(ReadOnlySpan<double> row, ReadOnlySpan<double> a, ReadOnlySpan<double> b)
    {
        int k = 0;
        double dotA = 0, dotB = 0;
        if (Vector256.IsHardwareAccelerated && row.Length >= Vector256<double>.Count)
        {
            ref double start = ref MemoryMarshal.GetReference(row);
            ref double first = ref MemoryMarshal.GetReference(a);
            ref double second = ref MemoryMarshal.GetReference(b);
            Vector256<double> sumA = Vector256<double>.Zero, sumB = Vector256<double>.Zero;
            for (; k <= row.Length - Vector256<double>.Count; k += Vector256<double>.Count)
            {
                var x = Vector256.LoadUnsafe(ref start, (nuint)k);
                sumA += x * Vector256.LoadUnsafe(ref first, (nuint)k);
                sumB += x * Vector256.LoadUnsafe(ref second, (nuint)k);
            }

            dotA = Vector256.Sum(sumA);
            dotB = Vector256.Sum(sumB);
        }

        for (; k < row.Length; k++)
        {
            double x = row[k];
            dotA += x * a[k];
            dotB += x * b[k];
        }

        return (dotA, dotB);
    }
}
