namespace SpectralAlign;

/// <summary>A spectral correction a <see cref="TrainingGuard"/> applied (or could not apply) to one layer.</summary>
/// <param name="Layer">The layer.</param>
/// <param name="Correction">The remedy.</param>
/// <param name="Applied">Whether the weight was changed.</param>
/// <param name="SpectralNormBefore">σ₁ before (the largest over a grouped layer's groups; NaN when not computed).</param>
/// <param name="SpectralNormAfter">σ₁ after (NaN when not computed).</param>
/// <param name="Problem">Why the weight or its optimizer state was left alone, or <c>null</c>.</param>
public sealed record LayerCorrection(string Layer, SpectralCorrection Correction, bool Applied, double SpectralNormBefore, double SpectralNormAfter, string? Problem);
