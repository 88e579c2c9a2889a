namespace SpectralAlign.Scenarios.Training;

/// <summary>
/// Classic global-norm clipping: when the gradient norm exceeds <see cref="MaxNorm"/>, all gradients are scaled by
/// MaxNorm / (norm + 1e-6), as PyTorch's <c>clip_grad_norm_</c> does.
/// </summary>
public sealed class NormClipping : IGradientClipping
{
    /// <summary>Creates the policy.</summary>
    /// <param name="maxNorm">The largest global norm let through; positive.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxNorm"/> is not positive and finite.</exception>
    public NormClipping(double maxNorm)
    {
        if (!(maxNorm > 0) || !double.IsFinite(maxNorm))
            throw new ArgumentOutOfRangeException(nameof(maxNorm), maxNorm, "The clipping threshold must be positive and finite.");
        MaxNorm = maxNorm;
    }

    /// <summary>The threshold.</summary>
    public double MaxNorm { get; }

    /// <inheritdoc />
    public double Clip(IReadOnlyList<TorchSharp.Modules.Parameter> parameters, double gradNorm)
    {
        double factor = MaxNorm / (gradNorm + 1e-6);
        if (factor >= 1)
            return gradNorm;
        Gradients.Scale(parameters, factor);
        return gradNorm * factor;
    }
}
