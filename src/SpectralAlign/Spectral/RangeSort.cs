using System.Runtime.Intrinsics;

namespace SpectralAlign.Spectral;

/// <summary>
/// Sorts finite doubles ascending in expected linear time for spread-out values: each value goes to one of n
/// equal-width ranges between the smallest and the largest value (a counting pass and a scatter), ranges of more than a
/// few values are sorted by <see cref="MemoryExtensions.Sort{T}(Span{T})"/>, and one insertion pass, which moves each
/// value only within its range, finishes the order. Few branches depend on the values, so unlike a comparison sort it
/// loses little to mispredictions. The map from value to range,
/// ⌊(x − min)·n / (max − min)⌋ in float64, is monotone (each step rounds monotonically), so every value of a range is
/// at least every value of the ranges below it and the result is the ascending order: the same values
/// <see cref="Array.Sort(Array)"/> gives, position by position (−0 and +0 compare equal and may come in either order,
/// as there). Values crowded into one range (a tight cluster beside an outlier) fall back to the library sort for that
/// range, so the worst case is a library sort plus a few linear passes. Keeps its buffers between calls.
/// </summary>
internal sealed class RangeSort
{
    /// <summary>Ranges (and inputs) of at most this many values are left to the insertion pass.</summary>
    private const int InsertionLimit = 16;

    private int[] _range = [];
    private int[] _ends = [];

    /// <summary>Writes the values of <paramref name="source"/> to <paramref name="destination"/> in ascending order.</summary>
    /// <param name="source">Finite values (no NaN or ∞).</param>
    /// <param name="destination">Exactly as long as <paramref name="source"/>, not overlapping it.</param>
    public void Sort(ReadOnlySpan<double> source, Span<double> destination)
    {
        int n = source.Length;
        if (n == 0)
            return;
        var (min, max) = Extremes(source);
        double scale = n / (max - min);
        if (n <= InsertionLimit || !double.IsFinite(scale) || !(scale > 0))
        {
            // Few values, all equal (scale ∞) or a spread beyond float64 (scale 0): no ranges.
            source.CopyTo(destination);
            if (n <= InsertionLimit) InsertionSort(destination);
            else if (max > min) destination.Sort();
            return;
        }

        if (_range.Length < n)
        {
            _range = new int[n];
            _ends = new int[n + 1];
        }

        var range = _range.AsSpan(0, n);
        var ends = _ends.AsSpan(0, n + 1);
        ends.Clear();
        for (int i = 0; i < n; i++)
        {
            int r = Math.Min((int)((source[i] - min) * scale), n - 1);   // ≥ 0: truncation is the floor
            range[i] = r;
            ends[r + 1]++;
        }

        for (int r = 1; r < n; r++)
            ends[r] += ends[r - 1];   // ends[r]: where range r starts

        for (int i = 0; i < n; i++)
            destination[ends[range[i]]++] = source[i];   // afterwards ends[r]: where range r ends

        // Crowded ranges by the library sort; then one insertion pass, which moves values only within their range.
        int start = 0;
        for (int r = 0; r < n; r++)
        {
            int end = ends[r];
            if (end - start > InsertionLimit) destination[start..end].Sort();
            start = end;
        }

        InsertionSort(destination);
    }

    /// <summary>The smallest and the largest of finite <paramref name="values"/> (not empty), four lanes at a time.</summary>
    private static (double Min, double Max) Extremes(ReadOnlySpan<double> values)
    {
        int i = 0;
        double min = values[0], max = values[0];
        if (Vector256.IsHardwareAccelerated && values.Length >= Vector256<double>.Count)
        {
            var low = Vector256.Create(values);
            var high = low;
            for (i = Vector256<double>.Count; i <= values.Length - Vector256<double>.Count; i += Vector256<double>.Count)
            {
                var x = Vector256.Create(values[i..]);
                low = Vector256.Min(low, x);
                high = Vector256.Max(high, x);
            }

            for (int lane = 0; lane < Vector256<double>.Count; lane++)
            {
                min = Math.Min(min, low[lane]);
                max = Math.Max(max, high[lane]);
            }
        }

        for (; i < values.Length; i++)
        {
            min = Math.Min(min, values[i]);
            max = Math.Max(max, values[i]);
        }

        return (min, max);
    }

    private static void InsertionSort(Span<double> values)
    {
        for (int i = 1; i < values.Length; i++)
        {
            double x = values[i];
            int j = i - 1;
            while (j >= 0 && values[j] > x)
            {
                values[j + 1] = values[j];
                j--;
            }

            values[j + 1] = x;
        }
    }
}
