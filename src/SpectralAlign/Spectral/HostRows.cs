using System.Buffers;
using System.Numerics;
using System.Runtime.InteropServices;
using static TorchSharp.torch;

namespace SpectralAlign.Spectral;

/// <summary>
/// The row-sized part of a measurement for a bucket on the CPU, computed on the host where the rows already are: the
/// same four values per row as <see cref="RowAlignment"/> computes with device operations (largest |element|, ‖hᵢ‖,
/// hᵢ·v1 and hᵢ·S with the sum S of the group's valid rows), read from each layer's captured rows in place. No stack of
/// the layers' rows, no float64 copy and no small tensor operations: two passes over each row (one for its largest
/// |element|, its norm, hᵢ·v1 and S, one for hᵢ·S), every element widened to float64 exactly and every sum
/// accumulated in float64, as on the device, so the values differ from the device path's only by rounding (the order
/// of the sums). On other devices <see cref="RowAlignment"/> does this work, so no row leaves its device.
/// </summary>
/// <remarks>
/// A row with a non-finite element is not valid: its largest |element| is NaN (any NaN) or ∞, its norm and products are
/// those of the row with its non-finite entries zeroed, and it is not part of S — as on the device. A zero row is not
/// part of S either (its values are 0).
/// </remarks>
internal sealed class HostRows
{
    private readonly Tensor?[] _rows;   // per member (G, N_j, n), contiguous float32 or float64 on the CPU, or null
    private readonly int _groups;
    private readonly int _width;
    private double[]? _values;          // RowField-major: field f, member j, slot s at ((f · L) + j) · G·M + s

    /// <param name="rows">Per member its (G, N_j, n) rows (any floating dtype) on the CPU, or <c>null</c>; bfloat16 and
    /// float16 rows are widened to float32 (exactly) and non-contiguous ones copied, in the caller's dispose
    /// scope; the others are read where they are.</param>
    /// <param name="groups">G.</param>
    /// <param name="width">n.</param>
    public HostRows(IReadOnlyList<Tensor?> rows, int groups, int width)
    {
        _groups = groups;
        _width = width;
        _rows = [.. rows.Select(r => r is null ? null : Readable(r))];
        Counts = [.. rows.Select(r => r?.shape[1] ?? 0)];
        Capacity = (int)Math.Max(1, Counts.Max());
    }

    /// <summary>Whether a layer's rows can be read here: none, or on the CPU and small enough that their widened
    /// float64 values fit one span (TorchSharp's host view of a tensor is limited to int.MaxValue bytes; larger
    /// captures, only possible with a very large <c>MaxSamplesPerLayer</c>, go to the device path).</summary>
    public static bool CanRead(Tensor? rows) =>
        rows is null || (rows.device_type == TorchSharp.DeviceType.CPU && rows.numel() <= int.MaxValue / sizeof(double));

    /// <summary>Per member, its rows per group (N_j; 0 without rows).</summary>
    public long[] Counts { get; }

    /// <summary>M: row slots per group in <see cref="Values"/>, the largest N_j (at least 1).</summary>
    public int Capacity { get; }

    /// <summary>The four values of member <paramref name="member"/>'s G·M row slots, after <see cref="Align"/>.</summary>
    public RowValues Values(int member)
    {
        var values = _values ?? throw new InvalidOperationException("The rows have not been aligned yet.");
        int slots = _groups * Capacity, layers = _rows.Length;
        ReadOnlySpan<double> Field(int field) => values.AsSpan(((field * layers) + member) * slots, slots);
        return new RowValues(Field(0), Field(1), Field(2), Field(3));
    }

    /// <summary>Computes every member's row values against its v1.</summary>
    /// <param name="vectors">(L·G, n) float32 v1 on the CPU, one per member and group (a view is fine).</param>
    /// <param name="hostBuffers">Where the rented value buffer is registered; the caller returns it to
    /// <see cref="ArrayPool{T}.Shared"/> once the measurements are built.</param>
    public void Align(Tensor vectors, List<double[]> hostBuffers)
    {
        int slots = _groups * Capacity, layers = _rows.Length, n = _width;
        if (_values is null)
        {
            _values = ArrayPool<double>.Shared.Rent(4 * layers * slots);
            hostBuffers.Add(_values);
        }

        using var contiguous = vectors.contiguous();
        var v = HostMemory.Span<float>(contiguous);
        var scratch = new Scratch(n);
        for (int j = 0; j < layers; j++)
        {
            var fields = new RowFields(_values, layers, slots, j);
            if (_rows[j] is not { } rows)
                continue;
            var vectorsOfMember = v.Slice(j * _groups * n, _groups * n);
            if (rows.dtype == ScalarType.Float64)
                AlignMember(HostMemory.Span<double>(rows), (int)Counts[j], vectorsOfMember, fields, scratch);
            else
                AlignMember(HostMemory.Span<float>(rows), (int)Counts[j], vectorsOfMember, fields, scratch);
        }
    }

    /// <summary>One member's row values from its (G, N, n) rows <paramref name="data"/> (float32 or float64).</summary>
    private void AlignMember<T>(ReadOnlySpan<T> data, int count, ReadOnlySpan<float> vectors, RowFields fields, Scratch scratch)
        where T : unmanaged, INumberBase<T>
    {
        int n = _width;
        var sum = scratch.Sum;
        var unit = scratch.Unit;
        for (int g = 0; g < _groups; g++)
        {
            for (int k = 0; k < n; k++)
                unit[k] = vectors[(g * n) + k];
            int first = g * Capacity;
            var rows = data.Slice(g * count * n, count * n);

            // One pass: every row's largest |element|, norm and hᵢ·v1, and S over all rows (a zero row adds nothing).
            Array.Clear(sum);
            bool spoilt = false;
            for (int i = 0; i < count; i++)
            {
                var (max, squares, dot) = Scan(rows.Slice(i * n, n), unit, sum);
                fields.RowMax[first + i] = max;
                fields.Norm[first + i] = Math.Sqrt(squares);
                fields.DotVector[first + i] = dot;
                spoilt |= !double.IsFinite(squares);
            }

            // A row with a NaN or ∞ (or float64 squares beyond float64's range) spoilt S and its own values: redo them
            // element by element, and S over the valid rows only.
            if (spoilt)
                Redo(rows, count, first, fields, scratch);

            for (int i = 0; i < count; i++)
            {
                var row = rows.Slice(i * n, n);
                fields.DotSum[first + i] = double.IsFinite(fields.RowMax[first + i])
                    ? Dot(row, sum)
                    : RowKernels.Dot(ZeroNonFinite(Widened(row, scratch.Row)), sum);
            }
        }
    }

    /// <summary>The values of a group's rows whose sums of squares were not finite, and S over the valid rows.</summary>
    private void Redo<T>(ReadOnlySpan<T> rows, int count, int first, RowFields fields, Scratch scratch)
        where T : unmanaged, INumberBase<T>
    {
        int n = _width;
        Array.Clear(scratch.Sum);
        for (int i = 0; i < count; i++)
        {
            var row = rows.Slice(i * n, n);
            int slot = first + i;
            double norm = fields.Norm[slot];
            if (!double.IsFinite(norm))
            {
                var widened = Widened(row, scratch.Row);
                var (max, squares) = NonFinite(widened);
                fields.RowMax[slot] = max;
                fields.Norm[slot] = Math.Sqrt(squares);
                fields.DotVector[slot] = RowKernels.Dot(ZeroNonFinite(widened), scratch.Unit);
            }

            if (double.IsFinite(fields.RowMax[slot]) && fields.RowMax[slot] > 0)
                RowKernels.Accumulate(scratch.Sum, row);
        }
    }

    private static (double Max, double Squares, double Dot) Scan<T>(ReadOnlySpan<T> row, double[] v, double[] sum)
        where T : unmanaged =>
        typeof(T) == typeof(float) ? RowKernels.Scan(MemoryMarshal.Cast<T, float>(row), v, sum) : RowKernels.Scan(MemoryMarshal.Cast<T, double>(row), v, sum);

    private static double Dot<T>(ReadOnlySpan<T> row, double[] a)
        where T : unmanaged =>
        typeof(T) == typeof(float) ? RowKernels.Dot(MemoryMarshal.Cast<T, float>(row), a) : RowKernels.Dot(MemoryMarshal.Cast<T, double>(row), a);

    /// <summary>A float32 or float64 row widened (exactly) into <paramref name="into"/>.</summary>
    private static double[] Widened<T>(ReadOnlySpan<T> row, double[] into)
        where T : unmanaged
    {
        if (typeof(T) == typeof(float))
        {
            var values = MemoryMarshal.Cast<T, float>(row);
            for (int k = 0; k < values.Length; k++)
                into[k] = values[k];
        }
        else
        {
            MemoryMarshal.Cast<T, double>(row).CopyTo(into);
        }

        return into;
    }

    /// <summary>Per-row work arrays of width n, reused over a measurement's rows.</summary>
    private sealed class Scratch(int n)
    {
        public double[] Row { get; } = new double[n];

        public double[] Sum { get; } = new double[n];

        public double[] Unit { get; } = new double[n];
    }

    /// <summary>One member's four output spans in the value buffer, cleared.</summary>
    private readonly ref struct RowFields
    {
        public RowFields(double[] values, int layers, int slots, int member)
        {
            var span = values.AsSpan();
            RowMax = span.Slice(((0 * layers) + member) * slots, slots);
            Norm = span.Slice(((1 * layers) + member) * slots, slots);
            DotVector = span.Slice(((2 * layers) + member) * slots, slots);
            DotSum = span.Slice(((3 * layers) + member) * slots, slots);
            RowMax.Clear();
            Norm.Clear();
            DotVector.Clear();
            DotSum.Clear();
        }

        public Span<double> RowMax { get; }

        public Span<double> Norm { get; }

        public Span<double> DotVector { get; }

        public Span<double> DotSum { get; }
    }

    /// <summary>The (G, N, n) rows as a contiguous float32 or float64 tensor (itself when it is one).</summary>
    private static Tensor Readable(Tensor rows)
    {
        if (rows.device_type != TorchSharp.DeviceType.CPU)
            throw new ArgumentException($"Host rows are read on the CPU; these are on {rows.device}.", nameof(rows));
        var typed = rows.dtype is ScalarType.Float32 or ScalarType.Float64 ? rows : rows.to(ScalarType.Float32);
        return typed.is_contiguous() ? typed : typed.contiguous();
    }

    /// <summary>A row whose sum of squares is not finite: its largest |element| (NaN if any element is NaN, else ∞ if
    /// any is infinite, else the finite largest, the squares having overflowed) and the sum of squares of its finite
    /// elements.</summary>
    private static (double Max, double Squares) NonFinite(ReadOnlySpan<double> row)
    {
        double max = 0, squares = 0;
        bool nan = false;
        foreach (double x in row)
        {
            nan |= double.IsNaN(x);
            max = Math.Max(max, Math.Abs(x));
            if (double.IsFinite(x))
                squares += x * x;
        }

        return (nan ? double.NaN : max, squares);
    }

    /// <summary>The row with its non-finite elements set to 0 (in place).</summary>
    private static double[] ZeroNonFinite(double[] row)
    {
        for (int k = 0; k < row.Length; k++)
        {
            if (!double.IsFinite(row[k]))
                row[k] = 0;
        }

        return row;
    }
}
