using static TorchSharp.torch;

namespace SpectralAlign.Spectral;

/// <summary>The fields of a layer's result row, in the order the device packs them.</summary>
internal enum ResultField
{
    /// <summary>σ1 (the largest over the layer's groups).</summary>
    Sigma1,

    /// <summary>σ2 estimate (the second largest of all groups' σ1 and σ2).</summary>
    Sigma2,

    /// <summary>‖W‖_F over all groups.</summary>
    Frobenius,

    /// <summary>The worst group's relative residual.</summary>
    Residual,

    /// <summary>1 when every weight element is finite, else 0.</summary>
    WeightFinite,

    /// <summary>1 when every group's v1 is finite, else 0.</summary>
    VectorFinite,

    /// <summary>‖(W_t − W_prev)Ω‖²_F / r, the sketch estimate of ‖W_t − W_prev‖²_F (see <see cref="UpdateSketch"/>).</summary>
    UpdateSquared,

    /// <summary>Per group and row slot (G·M values): the row's largest |element| (NaN/∞ for a non-finite row, 0
    /// for a zero or padding row).</summary>
    RowMaxAbs,

    /// <summary>Per group and row slot: ‖hᵢ‖ (of the row with its non-finite entries zeroed).</summary>
    RowNorm,

    /// <summary>Per group and row slot: hᵢ·v1.</summary>
    RowDotVector,

    /// <summary>Per group and row slot: hᵢ·S, S the sum of the group's valid rows.</summary>
    RowDotSum,
}

/// <summary>
/// The one definition of the device-to-host result layout of a bucket: the device side hands <see cref="Pack(IReadOnlyDictionary{ResultField, Tensor})"/> one
/// (L) or (L, width) tensor per <see cref="ResultField"/> and the host side reads a field by name through
/// <see cref="ResultRow"/>, so the two cannot disagree about positions; a missing or wrongly sized field throws at
/// once.
/// </summary>
internal sealed class ResultLayout
{
    private static readonly ResultField[] Fields = Enum.GetValues<ResultField>();
    private readonly int[] _offsets = new int[Fields.Length];
    private readonly int[] _widths = new int[Fields.Length];

    /// <param name="rowSlots">Values of each per-row field: G·M (groups × row capacity).</param>
    public ResultLayout(int rowSlots)
        : this(rowSlots, onHost: false)
    {
    }

    private ResultLayout(int rowSlots, bool onHost)
    {
        int offset = 0;
        foreach (var field in Fields)
        {
            int width = onHost && IsHostField(field) ? 0
                : field is ResultField.RowMaxAbs or ResultField.RowNorm or ResultField.RowDotVector or ResultField.RowDotSum ? rowSlots : 1;
            _offsets[(int)field] = offset;
            _widths[(int)field] = width;
            offset += width;
        }

        Width = offset;
    }

    /// <summary>The layout of a bucket on the CPU, whose per-row fields and <see cref="ResultField.UpdateSquared"/> the
    /// host computes where the tensors are (<see cref="HostRows"/>, <see cref="HostSketch"/>): those fields have no
    /// place in it.</summary>
    public static ResultLayout ForHost() => new(0, onHost: true);

    /// <summary>Whether <see cref="ForHost"/> leaves <paramref name="field"/> to the host.</summary>
    public static bool IsHostField(ResultField field) =>
        field is ResultField.RowMaxAbs or ResultField.RowNorm or ResultField.RowDotVector or ResultField.RowDotSum or ResultField.UpdateSquared;

    /// <summary>Values per layer.</summary>
    public int Width { get; }

    /// <summary>Packs one (L) or (L, width) tensor per field (fields of width 0 need none) into an (L, <see cref="Width"/>) float64 tensor: each
    /// maximal sequence of one-value fields is stacked in one operation, so a bucket's seven scalar fields cost one
    /// stack instead of seven reshapes and copies.</summary>
    /// <exception cref="InvalidOperationException">A field is missing or has the wrong size.</exception>
    public Tensor Pack(IReadOnlyDictionary<ResultField, Tensor> columns)
    {
        var missing = Fields.Where(f => _widths[(int)f] > 0 && !columns.ContainsKey(f)).ToList();
        if (missing.Count > 0)
            throw new InvalidOperationException($"The result row lacks the field(s) {string.Join(", ", missing)}.");
        var parts = new List<Tensor>(Fields.Length);
        var scalars = new List<Tensor>(Fields.Length);
        long layers = -1;
        foreach (var field in Fields)
        {
            if (_widths[(int)field] == 0)
                continue;
            var column = columns[field];
            var shape = column.shape;
            long width = shape.Length == 1 ? 1 : shape.Length == 2 ? shape[1] : -1;
            if (width != _widths[(int)field] || (layers >= 0 && shape[0] != layers))
                throw new InvalidOperationException($"Result field {field} has shape [{string.Join(", ", shape)}]; expected ({(layers >= 0 ? layers : "L")}, {_widths[(int)field]}).");
            layers = shape[0];
            var values = column.dtype == ScalarType.Float64 ? column : column.to(ScalarType.Float64);
            if (shape.Length == 1)
            {
                scalars.Add(values);
                continue;
            }

            FlushScalars(scalars, parts);
            parts.Add(values);
        }

        FlushScalars(scalars, parts);
        return parts.Count == 1 ? parts[0] : cat(parts, 1);
    }

    /// <summary>What <see cref="Pack(IReadOnlyDictionary{ResultField, Tensor})"/> gives, from values already on the host
    /// (one array per field of width 1; per-row fields must have width 0, as in <see cref="ForHost"/>): one tensor
    /// made from one array instead of a conversion per field and a stack.</summary>
    /// <param name="layers">L.</param>
    /// <param name="columns">Per field, its L values.</param>
    /// <exception cref="InvalidOperationException">A field is missing, has the wrong length, or is wider than one
    /// value.</exception>
    public Tensor Pack(int layers, IReadOnlyDictionary<ResultField, double[]> columns)
    {
        var missing = Fields.Where(f => _widths[(int)f] > 0 && !columns.ContainsKey(f)).ToList();
        if (missing.Count > 0)
            throw new InvalidOperationException($"The result row lacks the field(s) {string.Join(", ", missing)}.");
        var values = new double[layers * Width];
        foreach (var field in Fields)
        {
            int width = _widths[(int)field];
            if (width == 0)
                continue;
            var column = columns[field];
            if (width != 1 || column.Length != layers)
                throw new InvalidOperationException($"Result field {field} has {column.Length} values of width 1; expected ({layers}, {width}).");
            for (int l = 0; l < layers; l++)
                values[(l * Width) + _offsets[(int)field]] = column[l];
        }

        return tensor(values, [layers, Width]);
    }

    /// <summary>Adds the pending one-value fields to <paramref name="parts"/> as one (L, count) block.</summary>
    private static void FlushScalars(List<Tensor> scalars, List<Tensor> parts)
    {
        if (scalars.Count == 0)
            return;
        parts.Add(scalars.Count == 1 ? scalars[0].unsqueeze(1) : stack(scalars, 1));
        scalars.Clear();
    }

    /// <summary>The row of layer <paramref name="index"/> in host values packed by <see cref="Pack(IReadOnlyDictionary{ResultField, Tensor})"/>, starting at
    /// <paramref name="offset"/>.</summary>
    public ResultRow Row(double[] values, int offset, int index) => new(this, new ReadOnlySpan<double>(values, offset + (index * Width), Width));

    internal int Offset(ResultField field) => _offsets[(int)field];

    internal int FieldWidth(ResultField field) => _widths[(int)field];
}

/// <summary>One layer's results on the host, read by field.</summary>
internal readonly ref struct ResultRow(ResultLayout layout, ReadOnlySpan<double> values)
{
    private readonly ReadOnlySpan<double> _values = values;

    /// <summary>A one-value field.</summary>
    public double this[ResultField field] => _values[layout.Offset(field)];

    /// <summary>All values of a field.</summary>
    public ReadOnlySpan<double> Span(ResultField field) => _values.Slice(layout.Offset(field), layout.FieldWidth(field));
}
