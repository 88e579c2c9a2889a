using System.Numerics;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace SpectralAlign.Spectral;

/// <summary>
/// The per-row arithmetic of <see cref="HostRows"/>: one pass over a row for its largest |element|, Σx² and one dot
/// product while adding the row to a float64 sum (<see cref="Scan(ReadOnlySpan{float}, ReadOnlySpan{double}, Span{double})"/>),
/// a dot product (<see cref="Dot(ReadOnlySpan{float}, ReadOnlySpan{double})"/>), and adding a row to a sum. Every
/// float32 element is widened to float64 (exact) before it is multiplied or added, so float32 and float64 rows are
/// summed in float64 alike. Eight float32 (four float64) elements per step where <see cref="Vector256"/> is
/// accelerated, a scalar loop for the rest and elsewhere; products are accumulated with fused multiply–adds in
/// several lanes whose partial sums are added at the end, so the order of the additions (not their precision) differs
/// from a sequential sum.
/// </summary>
internal static class RowKernels
{
    /// <summary>One pass over a row: its largest |element|, its sum of squares and row·<paramref name="v"/>, and adds
    /// the row to <paramref name="sum"/>. For a row with a NaN or ∞ the sum of squares is not finite, the largest
    /// |element| and the dot product are not defined, and <paramref name="sum"/> is spoilt (callers redo such
    /// groups).</summary>
    public static (double Max, double Squares, double Dot) Scan(ReadOnlySpan<float> row, ReadOnlySpan<double> v, Span<double> sum)
    {
        int k = 0;
        double max = 0, squares = 0, dot = 0;
        if (Vector256.IsHardwareAccelerated && row.Length >= Vector256<float>.Count)
        {
            ref float start = ref MemoryMarshal.GetReference(row);
            ref double vector = ref MemoryMarshal.GetReference(v);
            ref double total = ref MemoryMarshal.GetReference(sum);
            var most = Vector256<float>.Zero;
            Vector256<double> squaresLow = default, squaresHigh = default, dotLow = default, dotHigh = default;
            for (; k <= row.Length - Vector256<float>.Count; k += Vector256<float>.Count)
            {
                var x = Vector256.LoadUnsafe(ref start, (nuint)k);
                most = Vector256.MaxNative(most, Vector256.Abs(x));
                var (low, high) = Vector256.Widen(x);
                nuint next = (nuint)(k + Vector256<double>.Count);
                squaresLow = Vector256.FusedMultiplyAdd(low, low, squaresLow);
                squaresHigh = Vector256.FusedMultiplyAdd(high, high, squaresHigh);
                dotLow = Vector256.FusedMultiplyAdd(low, Vector256.LoadUnsafe(ref vector, (nuint)k), dotLow);
                dotHigh = Vector256.FusedMultiplyAdd(high, Vector256.LoadUnsafe(ref vector, next), dotHigh);
                (Vector256.LoadUnsafe(ref total, (nuint)k) + low).StoreUnsafe(ref total, (nuint)k);
                (Vector256.LoadUnsafe(ref total, next) + high).StoreUnsafe(ref total, next);
            }

            var most128 = Vector128.MaxNative(most.GetLower(), most.GetUpper());
            max = Math.Max(Math.Max(most128.GetElement(0), most128.GetElement(1)), Math.Max(most128.GetElement(2), most128.GetElement(3)));
            squares = Vector256.Sum(squaresLow + squaresHigh);
            dot = Vector256.Sum(dotLow + dotHigh);
        }

        return ScanTail(row, v, sum, k, max, squares, dot);
    }

    /// <inheritdoc cref="Scan(ReadOnlySpan{float}, ReadOnlySpan{double}, Span{double})"/>
    public static (double Max, double Squares, double Dot) Scan(ReadOnlySpan<double> row, ReadOnlySpan<double> v, Span<double> sum)
    {
        int k = 0;
        double max = 0, squares = 0, dot = 0;
        if (Vector256.IsHardwareAccelerated && row.Length >= Vector256<double>.Count)
        {
            ref double start = ref MemoryMarshal.GetReference(row);
            ref double vector = ref MemoryMarshal.GetReference(v);
            ref double total = ref MemoryMarshal.GetReference(sum);
            Vector256<double> most = default, squaresSum = default, dotSum = default;
            for (; k <= row.Length - Vector256<double>.Count; k += Vector256<double>.Count)
            {
                var x = Vector256.LoadUnsafe(ref start, (nuint)k);
                most = Vector256.MaxNative(most, Vector256.Abs(x));
                squaresSum = Vector256.FusedMultiplyAdd(x, x, squaresSum);
                dotSum = Vector256.FusedMultiplyAdd(x, Vector256.LoadUnsafe(ref vector, (nuint)k), dotSum);
                (Vector256.LoadUnsafe(ref total, (nuint)k) + x).StoreUnsafe(ref total, (nuint)k);
            }

            max = Math.Max(Math.Max(most.GetElement(0), most.GetElement(1)), Math.Max(most.GetElement(2), most.GetElement(3)));
            squares = Vector256.Sum(squaresSum);
            dot = Vector256.Sum(dotSum);
        }

        return ScanTail(row, v, sum, k, max, squares, dot);
    }

    /// <summary>row·<paramref name="a"/> in float64 (<paramref name="a"/> at least as long as the row).</summary>
    public static double Dot(ReadOnlySpan<float> row, ReadOnlySpan<double> a)
    {
        int k = 0;
        double dot = 0;
        if (Vector256.IsHardwareAccelerated && row.Length >= Vector256<float>.Count)
        {
            ref float start = ref MemoryMarshal.GetReference(row);
            ref double first = ref MemoryMarshal.GetReference(a);
            Vector256<double> low = default, high = default;
            for (; k <= row.Length - Vector256<float>.Count; k += Vector256<float>.Count)
            {
                var (lower, upper) = Vector256.Widen(Vector256.LoadUnsafe(ref start, (nuint)k));
                low = Vector256.FusedMultiplyAdd(lower, Vector256.LoadUnsafe(ref first, (nuint)k), low);
                high = Vector256.FusedMultiplyAdd(upper, Vector256.LoadUnsafe(ref first, (nuint)(k + Vector256<double>.Count)), high);
            }

            dot = Vector256.Sum(low + high);
        }

        return DotTail(row, a, k, dot);
    }

    /// <inheritdoc cref="Dot(ReadOnlySpan{float}, ReadOnlySpan{double})"/>
    public static double Dot(ReadOnlySpan<double> row, ReadOnlySpan<double> a)
    {
        int k = 0;
        double dot = 0;
        if (Vector256.IsHardwareAccelerated && row.Length >= 2 * Vector256<double>.Count)
        {
            ref double start = ref MemoryMarshal.GetReference(row);
            ref double first = ref MemoryMarshal.GetReference(a);
            Vector256<double> low = default, high = default;
            for (; k <= row.Length - (2 * Vector256<double>.Count); k += 2 * Vector256<double>.Count)
            {
                nuint next = (nuint)(k + Vector256<double>.Count);
                low = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref start, (nuint)k), Vector256.LoadUnsafe(ref first, (nuint)k), low);
                high = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref start, next), Vector256.LoadUnsafe(ref first, next), high);
            }

            dot = Vector256.Sum(low + high);
        }

        return DotTail(row, a, k, dot);
    }

    /// <summary>Σ x² over the row in float64 (float32 values widened, exact, before they are squared): not finite when
    /// an element is not.</summary>
    public static double Squares(ReadOnlySpan<float> row)
    {
        int k = 0;
        double squares = 0;
        if (Vector256.IsHardwareAccelerated && row.Length >= Vector256<float>.Count)
        {
            ref float start = ref MemoryMarshal.GetReference(row);
            Vector256<double> low = default, high = default;
            for (; k <= row.Length - Vector256<float>.Count; k += Vector256<float>.Count)
            {
                var (lower, upper) = Vector256.Widen(Vector256.LoadUnsafe(ref start, (nuint)k));
                low = Vector256.FusedMultiplyAdd(lower, lower, low);
                high = Vector256.FusedMultiplyAdd(upper, upper, high);
            }

            squares = Vector256.Sum(low + high);
        }

        for (; k < row.Length; k++)
            squares += (double)row[k] * row[k];
        return squares;
    }

    /// <summary>sum += factor · row in float64 (<paramref name="sum"/> at least as long as the row).</summary>
    public static void AddScaled(Span<double> sum, ReadOnlySpan<float> row, double factor)
    {
        if (sum.Length < row.Length)
            throw new ArgumentException("The sum is shorter than the row.", nameof(sum));
        int k = 0;
        if (Vector256.IsHardwareAccelerated && row.Length >= Vector256<float>.Count)
        {
            ref float start = ref MemoryMarshal.GetReference(row);
            ref double total = ref MemoryMarshal.GetReference(sum);
            var scale = Vector256.Create(factor);
            for (; k <= row.Length - Vector256<float>.Count; k += Vector256<float>.Count)
            {
                var (low, high) = Vector256.Widen(Vector256.LoadUnsafe(ref start, (nuint)k));
                nuint next = (nuint)(k + Vector256<double>.Count);
                Vector256.FusedMultiplyAdd(low, scale, Vector256.LoadUnsafe(ref total, (nuint)k)).StoreUnsafe(ref total, (nuint)k);
                Vector256.FusedMultiplyAdd(high, scale, Vector256.LoadUnsafe(ref total, next)).StoreUnsafe(ref total, next);
            }
        }

        for (; k < row.Length; k++)
            sum[k] = Math.FusedMultiplyAdd(row[k], factor, sum[k]);
    }

    /// <summary>Σ (a − b)² in float64, float32 values widened (exact) before they are subtracted.</summary>
    public static double SquaredDistance(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
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

        return SquaredDistance(a, b, k, sum);
    }

    /// <summary>Σ (a − b)² from element <paramref name="k"/> on, continuing <paramref name="sum"/>, element by element
    /// (any mix of float32 and float64; the vector loop's tail, or the whole span).</summary>
    public static double SquaredDistance<TA, TB>(ReadOnlySpan<TA> a, ReadOnlySpan<TB> b, int k, double sum)
        where TA : unmanaged, INumberBase<TA>
        where TB : unmanaged, INumberBase<TB>
    {
        for (; k < a.Length; k++)
        {
            double d = double.CreateTruncating(a[k]) - double.CreateTruncating(b[k]);
            sum += d * d;
        }

        return sum;
    }

    /// <summary>sum += row, element by element (row, float32 or float64, widened to float64).</summary>
    public static void Accumulate<T>(Span<double> sum, ReadOnlySpan<T> row)
        where T : unmanaged, INumberBase<T>
    {
        for (int k = 0; k < row.Length; k++)
            sum[k] += double.CreateTruncating(row[k]);
    }

    /// <summary><see cref="Scan(ReadOnlySpan{float}, ReadOnlySpan{double}, Span{double})"/>'s scalar loop from element
    /// <paramref name="k"/> on (the tail after the vector steps, or the whole row), continuing the given sums.</summary>
    private static (double Max, double Squares, double Dot) ScanTail<T>(ReadOnlySpan<T> row, ReadOnlySpan<double> v, Span<double> sum, int k, double max, double squares, double dot)
        where T : unmanaged, INumberBase<T>
    {
        for (; k < row.Length; k++)
        {
            double x = double.CreateTruncating(row[k]);
            max = Math.Max(max, Math.Abs(x));
            squares += x * x;
            dot += x * v[k];
            sum[k] += x;
        }

        return (max, squares, dot);
    }

    /// <summary><see cref="Dot(ReadOnlySpan{float}, ReadOnlySpan{double})"/>'s scalar loop from element
    /// <paramref name="k"/> on.</summary>
    private static double DotTail<T>(ReadOnlySpan<T> row, ReadOnlySpan<double> a, int k, double dot)
        where T : unmanaged, INumberBase<T>
    {
        for (; k < row.Length; k++)
            dot += double.CreateTruncating(row[k]) * a[k];
        return dot;
    }
}
