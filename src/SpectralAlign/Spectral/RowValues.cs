namespace SpectralAlign.Spectral;

/// <summary>
/// A layer's four values per row slot (G·M each, group-major), as <see cref="AlignmentSummary"/> reads them: the
/// largest |element|, ‖hᵢ‖, hᵢ·v1 and hᵢ·S. They come from the device's read-back (<see cref="Of"/>, the fields of
/// <see cref="ResultRow"/>) or, for a bucket on the CPU, from <see cref="HostRows"/>.
/// </summary>
internal readonly ref struct RowValues(ReadOnlySpan<double> rowMax, ReadOnlySpan<double> norm, ReadOnlySpan<double> dotVector, ReadOnlySpan<double> dotSum)
{
    /// <summary>Largest |element| (NaN or ∞ for a non-finite row, 0 for a zero or padding row).</summary>
    public ReadOnlySpan<double> RowMax { get; } = rowMax;

    /// <summary>‖hᵢ‖ of the row with its non-finite entries zeroed.</summary>
    public ReadOnlySpan<double> Norm { get; } = norm;

    /// <summary>hᵢ·v1.</summary>
    public ReadOnlySpan<double> DotVector { get; } = dotVector;

    /// <summary>hᵢ·S, S the sum of the group's valid rows.</summary>
    public ReadOnlySpan<double> DotSum { get; } = dotSum;

    /// <summary>The row fields of a device result row.</summary>
    public static RowValues Of(ResultRow row) =>
        new(row.Span(ResultField.RowMaxAbs), row.Span(ResultField.RowNorm), row.Span(ResultField.RowDotVector), row.Span(ResultField.RowDotSum));
}
