namespace SpectralAlign;

/// <summary>
/// Summary of the distribution of spectral-alignment values SA_i = cos(h_i, v1) over the sampled input rows of
/// one layer at one measured step. Immutable.
/// </summary>
/// <remarks>
/// Only valid rows enter the statistics: rows with a zero norm are counted in <see cref="ZeroRows"/> and rows with a
/// NaN or infinite element in <see cref="NonFiniteRows"/>; neither is part of <see cref="Count"/>. When
/// <see cref="Count"/> is zero every statistic is zero (never NaN). Quantiles use linear interpolation between
/// order statistics (the R-7 / NumPy default definition); <see cref="StdDev"/> is the population standard deviation.
/// </remarks>
public sealed class SpectralAlignmentStats
{
    /// <summary>An empty distribution: no valid rows.</summary>
    public static SpectralAlignmentStats Empty { get; } = new();

    /// <summary>Number of valid rows the statistics are computed from.</summary>
    public int Count { get; init; }

    /// <summary>Sampled rows excluded because their norm is zero (SA is undefined for them).</summary>
    public int ZeroRows { get; init; }

    /// <summary>Sampled rows excluded because they contain NaN or an infinity.</summary>
    public int NonFiniteRows { get; init; }

    /// <summary>Mean of the SA values, in [-1, 1]. Its sign follows the sign convention of v1, which the monitor keeps
    /// consistent from step to step; judge collapse with <see cref="AbsMean"/> or <see cref="SignDiversity"/>.</summary>
    public double Mean { get; init; }

    /// <summary>|<see cref="Mean"/>|, the sign-invariant one-sidedness of the distribution.</summary>
    public double AbsMean => Math.Abs(Mean);

    /// <summary>Population standard deviation of the SA values.</summary>
    public double StdDev { get; init; }

    /// <summary>Fraction p₊ of SA values that are positive; values within ±1e-6 of zero count one half.</summary>
    public double PositiveFraction { get; init; }

    /// <summary>Sign diversity D = 2·min(p₊, 1 − p₊): 1 when the signs are perfectly balanced, 0 when all values have
    /// the same sign.</summary>
    public double SignDiversity { get; init; }

    /// <summary>Smallest SA value.</summary>
    public double Min { get; init; }

    /// <summary>5th percentile of the SA values.</summary>
    public double P05 { get; init; }

    /// <summary>25th percentile of the SA values.</summary>
    public double P25 { get; init; }

    /// <summary>Median of the SA values.</summary>
    public double Median { get; init; }

    /// <summary>75th percentile of the SA values.</summary>
    public double P75 { get; init; }

    /// <summary>95th percentile of the SA values.</summary>
    public double P95 { get; init; }

    /// <summary>Largest SA value.</summary>
    public double Max { get; init; }

    /// <summary>Counts of SA values in equal-width bins spanning [-1, 1] (bin i covers
    /// [-1 + 2i/B, -1 + 2(i+1)/B), the last bin includes 1). Its length is
    /// <see cref="SpectralMonitorOptions.HistogramBins"/>; empty for <see cref="Empty"/>.</summary>
    public IReadOnlyList<int> Histogram { get; init; } = [];

    /// <inheritdoc />
    public override string ToString() =>
        FormattableString.Invariant(
            $"n={Count} mean={Mean:+0.000;-0.000} sd={StdDev:0.000} p+={PositiveFraction:0.000} D={SignDiversity:0.000} [P05 {P05:+0.000;-0.000}, P50 {Median:+0.000;-0.000}, P95 {P95:+0.000;-0.000}]");
}
