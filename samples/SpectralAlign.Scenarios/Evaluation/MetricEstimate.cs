namespace SpectralAlign.Scenarios.Evaluation;

/// <summary>A metric on the full data with its bootstrap percentile interval.</summary>
/// <param name="Value">The metric on all runs (NaN when undefined).</param>
/// <param name="Lower">Lower end of the interval (NaN when fewer than half of the resamples define the metric).</param>
/// <param name="Upper">Upper end of the interval (NaN likewise).</param>
public sealed record MetricEstimate(double Value, double Lower, double Upper)
{
    /// <summary>A metric without an interval.</summary>
    /// <param name="value">The value.</param>
    /// <returns>The estimate.</returns>
    public static MetricEstimate Point(double value) => new(value, double.NaN, double.NaN);
}
