namespace SpectralAlign;

/// <summary>The value the spectrum smoothing (<see cref="SpectralCorrection.Smooth"/>) shrinks the top-k singular
/// values of a weight towards.</summary>
public enum SmoothingTarget
{
    /// <summary>σ_{k+1}, the largest singular value that is not smoothed.</summary>
    NextSingularValue,

    /// <summary>The root mean square of the singular values that are not smoothed,
    /// √((‖W‖²_F − σ₁² − … − σ_k²) / (min(m, n) − k)): the level of the bulk of the spectrum.</summary>
    TailRootMeanSquare,
}
