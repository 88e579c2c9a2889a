using static TorchSharp.torch;

namespace SpectralAlign.Spectral;

/// <summary>The fields of a layer's result row, in the order the device packs them.</summary>
internal enum ResultField
{
    /// <summary>Rows present in the capture (before validity checks).</summary>
    PresentRows,

    /// <summary>Valid rows (finite, non-zero).</summary>
    Count,

    ZeroRows,
    NonFiniteRows,
    Mean,
    StdDev,
    PositiveFraction,

    /// <summary>The quantiles at <see cref="ResultLayout.QuantileLevels"/> (min … max).</summary>
    Quantiles,

    InputMeanAlignment,
    MaxAbsInput,
    Sigma1,
    Sigma2,
    Frobenius,
    Residual,
    WeightFinite,
    VectorFinite,

    /// <summary>Counts per histogram bin.</summary>
    Histogram,
}

/// <summary>
/// The one definition of the device-to-host result layout: the device side hands <see cref="Pack"/> one (L, width)
/// tensor per <see cref="ResultField"/> and the host side reads a field by name through <see cref="ResultRow"/>, so the
/// two cannot disagree about positions; a missing, extra or wrongly sized field throws at once.
/// </summary>
internal sealed class ResultLayout
{
    /// <summary>Quantile levels of <see cref="ResultField.Quantiles"/>: min, P05, P25, median, P75, P95, max.</summary>
    public static readonly float[] QuantileLevels = [0f, 0.05f, 0.25f, 0.5f, 0.75f, 0.95f, 1f];

    private static readonly ResultField[] Fields = Enum.GetValues<ResultField>();
    private readonly int[] _offsets = new int[Fields.Length];
    private readonly int[] _widths = new int[Fields.Length];

    public ResultLayout(int histogramBins)
    {
        int offset = 0;
        foreach (var field in Fields)
        {
            int width = field switch
            {
                ResultField.Quantiles => QuantileLevels.Length,
                ResultField.Histogram => histogramBins,
                _ => 1,
            };
            _offsets[(int)field] = offset;
            _widths[(int)field] = width;
            offset += width;
        }

        Width = offset;
    }

    /// <summary>Values per layer.</summary>
    public int Width { get; }

    /// <summary>Packs one (L) or (L, width) tensor per field into an (L, <see cref="Width"/>) float64 tensor.</summary>
    /// <exception cref="InvalidOperationException">A field is missing, unknown or has the wrong size.</exception>
    public Tensor Pack(IReadOnlyDictionary<ResultField, Tensor> columns)
    {
        if (columns.Count != Fields.Length)
            throw new InvalidOperationException($"The result row needs {Fields.Length} fields, got {columns.Count}: missing {string.Join(", ", Fields.Where(f => !columns.ContainsKey(f)))}.");
        var parts = new List<Tensor>(Fields.Length);
        long layers = -1;
        foreach (var field in Fields)
        {
            var column = columns[field];
            var part = column.dim() == 1 ? column.unsqueeze(1) : column;
            if (part.dim() != 2 || part.shape[1] != _widths[(int)field] || (layers >= 0 && part.shape[0] != layers))
                throw new InvalidOperationException($"Result field {field} has shape [{string.Join(", ", column.shape)}]; expected ({(layers >= 0 ? layers : "L")}, {_widths[(int)field]}).");
            layers = part.shape[0];
            parts.Add(part.to(ScalarType.Float64));
        }

        return cat(parts, 1);
    }

    /// <summary>The row of layer <paramref name="index"/> in host values packed by <see cref="Pack"/>.</summary>
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
