namespace SpectralAlign;

/// <summary>What a spectral correction does to the optimizer state of the elements it changed.</summary>
public enum MomentPolicy
{
    /// <summary>Leave the optimizer state as it is.</summary>
    Keep,

    /// <summary>Zero every moment of the corrected elements (SGD's momentum buffer; Adam's and AdamW's first and second
    /// moments and AMSGrad maximum). When the corrected tensor is a whole parameter, Adam's and AdamW's step count of
    /// that parameter is reset to 0 as well, so it restarts exactly like a new optimizer state; for part of a
    /// parameter (e.g. the q rows of a packed attention projection) the step count, shared with the rest, is kept, and
    /// the first updates of the reset elements are then up to (1 − β₁)/√(1 − β₂) ≈ 3 × the learning rate.</summary>
    Reset,

    /// <summary>Multiply the first moment of the corrected elements (SGD's momentum buffer, Adam's and AdamW's first
    /// moment) by <see cref="TrainingGuardOptions.MomentScale"/> and keep the second moment: damps the velocity that
    /// drove the weight without changing Adam's per-element normalisation.</summary>
    Rescale,
}
