namespace SpectralAlign;

/// <summary>A spectral remedy a <see cref="TrainingGuard"/> applies to a layer's weight, on the weight's own device,
/// without autograd, all or nothing (a weight that is not finite, is zero, or whose decomposition does not converge is
/// left untouched and the refusal is logged).</summary>
public enum SpectralCorrection
{
    /// <summary>No spectral correction.</summary>
    None,

    /// <summary>W ← W − (σ₁ − τ)·u₁v₁ᵀ: the top singular value becomes τ, the σ₁ the layer had in the snapshot a
    /// rollback restores (or would restore, when <see cref="TrainingGuardOptions.Rollback"/> is off); everything else
    /// in the spectrum is unchanged. Never raises σ₁; right after a rollback it changes nothing, so combine it with
    /// <c>Rollback = false</c>.</summary>
    Rank1,

    /// <summary>A PSS-like smoothing: the top <see cref="TrainingGuardOptions.SmoothingRank"/> singular values are moved
    /// towards <see cref="TrainingGuardOptions.SmoothingTarget"/> by <see cref="TrainingGuardOptions.SmoothingStrength"/>;
    /// the singular vectors and the rest of the spectrum are unchanged. O(k·m·n).</summary>
    Smooth,

    /// <summary>MSign's matrix-sign step: the weight becomes its polar factor (computed by Newton–Schulz iterations,
    /// no SVD) rescaled to keep ‖W‖_F, blended with the weight by <see cref="TrainingGuardOptions.MatrixSignMix"/>.
    /// With the full step every non-zero singular value becomes equal and the stable rank becomes maximal.</summary>
    MatrixSign,
}
