using static TorchSharp.torch;

namespace SpectralAlign.Spectral;

/// <summary>
/// The input rows of a bucket's layers, copied into one (L·G, M, n) stack on the bucket's device and padded with zero
/// rows to the longest capture (M, at least 1), with each layer's row count. <see cref="RowAlignment"/> reads it (and
/// overwrites it); the bucket reads <see cref="Capacity"/> and <see cref="Counts"/> to find each layer's rows in the
/// results. The stack keeps the capture's precision — float32 (bfloat16 and float16 rows are widened exactly) unless a
/// layer's rows are float64 — so that the one copy is cheap; <see cref="RowAlignment"/> widens it to float64 after
/// the passes that are exact in any dtype.
/// </summary>
internal sealed class RowStack
{
    /// <param name="rows">Per layer, its (G, N_j, n) rows (any floating dtype) or <c>null</c>; only read.</param>
    /// <param name="groups">G.</param>
    /// <param name="width">n.</param>
    /// <param name="device">The bucket's device.</param>
    public RowStack(IReadOnlyList<Tensor?> rows, int groups, int width, Device device)
    {
        Groups = groups;
        Counts = rows.Select(r => r?.shape[1] ?? 0).ToArray();
        Capacity = (int)Math.Max(1, Counts.Max());
        var dtype = rows.Any(r => r?.dtype == ScalarType.Float64) ? ScalarType.Float64 : ScalarType.Float32;
        Rows = Stack(rows, groups, Capacity, width, device, dtype);
    }

    /// <summary>(L·G, M, n) float32 or float64, zero beyond each layer's rows; a fresh tensor that
    /// <see cref="RowAlignment"/> may overwrite (when it is float64 already).</summary>
    public Tensor Rows { get; }

    /// <summary>G.</summary>
    public int Groups { get; }

    /// <summary>Per layer, its rows per group (N_j; 0 without rows).</summary>
    public long[] Counts { get; }

    /// <summary>M: row slots per unit.</summary>
    public int Capacity { get; }

    /// <summary>Copies one (G, r_j, c) tensor (or nothing) per member into a fresh zero-padded (L·G, rows, c) stack of
    /// <paramref name="dtype"/> on <paramref name="device"/>. When every member has all the rows in one dtype (the
    /// usual capture) that is a single copy; otherwise consecutive members of the same size and dtype are copied (and
    /// converted) together, and zeros are written only into the padding.</summary>
    public static Tensor Stack(IReadOnlyList<Tensor?> items, int groups, long rows, long columns, Device device, ScalarType dtype = ScalarType.Float64)
    {
        var first = items[0];
        if (first is not null && items.All(t => t is not null && t.shape[1] == rows && t.dtype == first.dtype && t.device_type == device.type && t.device_index == device.index))
        {
            var all = items.Count == 1 ? first.unsqueeze(0) : stack(items.Select(t => t!).ToList(), 0);
            var copy = all.dtype != dtype ? all.to(dtype) : items.Count == 1 ? all.clone() : all;
            return copy.reshape(items.Count * groups, rows, columns);
        }

        var stacked = empty([items.Count, groups, rows, columns], dtype: dtype, device: device);
        for (int start = 0; start < items.Count;)
        {
            var head = items[start];
            long count = head?.shape[1] ?? 0;
            int end = start + 1;
            while (end < items.Count && (items[end]?.shape[1] ?? 0) == count && (count == 0 || items[end]!.dtype == head!.dtype))
                end++;
            var slots = stacked.narrow(0, start, end - start);
            if (count > 0)
                slots.narrow(2, 0, count).copy_(end - start == 1 ? head!.unsqueeze(0) : stack(Enumerable.Range(start, end - start).Select(i => items[i]!).ToList(), 0));
            if (count < rows)
                slots.narrow(2, count, rows - count).zero_();
            start = end;
        }

        return stacked.view(items.Count * groups, rows, columns);
    }
}
