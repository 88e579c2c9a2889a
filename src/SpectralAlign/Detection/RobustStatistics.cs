using MathNet.Numerics.Statistics;

namespace SpectralAlign.Detection;

/// <summary>Median and robust spread of a sample, in expected linear time (MathNet's selection-based median).</summary>
internal static class RobustStatistics
{
    /// <summary>The factor that makes the median absolute deviation a consistent estimator of a normal standard
    /// deviation.</summary>
    public const double MadToSigma = 1.4826;

    /// <summary>The median of the values (NaN for an empty sample).</summary>
    public static double Median(IEnumerable<double> values)
    {
        double[] sample = [.. values];
        return sample.Length == 0 ? double.NaN : ArrayStatistics.MedianInplace(sample);
    }

    /// <summary>The median and the robust spread 1.4826·MAD of the values (NaN for an empty sample).</summary>
    public static (double Median, double Spread) MedianAndSpread(IEnumerable<double> values)
    {
        double[] sample = [.. values];
        if (sample.Length == 0)
            return (double.NaN, double.NaN);
        double median = ArrayStatistics.MedianInplace(sample);
        for (int i = 0; i < sample.Length; i++)
            sample[i] = Math.Abs(sample[i] - median);
        return (median, MadToSigma * ArrayStatistics.MedianInplace(sample));
    }
}
