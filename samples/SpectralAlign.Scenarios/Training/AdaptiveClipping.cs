namespace SpectralAlign.Scenarios.Training;

/// <summary>
/// ZClip-style adaptive clipping (Kumar et al. 2025, "ZClip: Adaptive Spike Mitigation for LLM Pre-Training"): an
/// exponential moving average of the gradient norm's mean μ and variance σ², initialised from the first
/// <see cref="WarmupSteps"/> norms (nothing is clipped meanwhile). When a norm g has z = (g − μ)/σ above
/// <see cref="ZThreshold"/>, the gradients are scaled down to the norm μ + (ZThreshold² / z)·σ (the paper's
/// reciprocal rule: the larger the spike, the harder the clip). The statistics are then updated with the norm after
/// clipping. Not thread-safe; its state is not part of a <see cref="RunSnapshot"/>.
/// </summary>
public sealed class AdaptiveClipping : IGradientClipping
{
    private readonly List<double> _warmup = [];
    private double _mean;
    private double _variance;

    /// <summary>Smoothing factor α of the moving averages; default 0.97 (the paper's).</summary>
    public double Alpha { get; init; } = 0.97;

    /// <summary>The z-score above which a norm is clipped; default 2.5 (the paper's).</summary>
    public double ZThreshold { get; init; } = 2.5;

    /// <summary>Steps whose norms initialise μ and σ; default 25 (the paper's).</summary>
    public int WarmupSteps { get; init; } = 25;

    /// <summary>Steps whose gradients were scaled down so far.</summary>
    public int ClippedSteps { get; private set; }

    /// <inheritdoc />
    public double Clip(IReadOnlyList<TorchSharp.Modules.Parameter> parameters, double gradNorm)
    {
        if (_warmup.Count < WarmupSteps)
        {
            _warmup.Add(gradNorm);
            if (_warmup.Count == WarmupSteps)
            {
                _mean = _warmup.Average();
                _variance = _warmup.Sum(g => (g - _mean) * (g - _mean)) / _warmup.Count;
            }

            return gradNorm;
        }

        double std = Math.Sqrt(_variance);
        double after = gradNorm;
        if (std > 0)
        {
            double z = (gradNorm - _mean) / std;
            if (z > ZThreshold)
            {
                after = _mean + ZThreshold * ZThreshold / z * std;
                Gradients.Scale(parameters, after / gradNorm);
                ClippedSteps++;
            }
        }

        _mean = Alpha * _mean + (1 - Alpha) * after;
        _variance = Alpha * _variance + (1 - Alpha) * (after - _mean) * (after - _mean);
        return after;
    }
}
