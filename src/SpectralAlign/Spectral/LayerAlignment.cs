namespace SpectralAlign.Spectral;

/// <summary>What <see cref="AlignmentSummary.Summarize(RowValues, int, int, long, bool)"/> finds in one layer's rows.</summary>
/// <param name="Counts">Only the zero and non-finite row counts (by the rows' largest |element|).</param>
/// <param name="Stats">The SA statistics (only the row counts when v1 is not defined).</param>
/// <param name="CenteredStats">The centred SA statistics (likewise).</param>
/// <param name="InputMeanAlignment">cos(h̄, v1), averaged over groups (0 without v1 or valid rows).</param>
/// <param name="MaxRowNorm">The largest ‖hᵢ‖ among the valid rows (0 without any).</param>
/// <param name="MaxAbsInput">The largest |element| among the valid rows (0 without any).</param>
internal readonly record struct LayerAlignment(
    SpectralAlignmentStats Counts,
    SpectralAlignmentStats Stats,
    SpectralAlignmentStats CenteredStats,
    double InputMeanAlignment,
    double MaxRowNorm,
    double MaxAbsInput);
