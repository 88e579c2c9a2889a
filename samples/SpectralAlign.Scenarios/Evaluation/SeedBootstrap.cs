using MathNet.Numerics.Statistics;

namespace SpectralAlign.Scenarios.Evaluation;

/// <summary>
/// Percentile bootstrap over seeds: the runs of one family are grouped by seed (a seed's stable and exploding runs,
/// or a parent's control and trigger forks, are one unit; in a lottery a seed is one run), the seeds are drawn with
/// replacement as many times as there are seeds, and each run enters a resample as often as its seed was drawn.
/// The interval is the (α/2, 1 − α/2) pair of quantiles (R-7, linear interpolation) of the resampled metric, over the
/// resamples in which the metric is defined (e.g. a resample with no exploding run has no AUROC); with fewer than half
/// of the resamples defined there is no interval. The generator is <see cref="Random"/> with a fixed seed, so the
/// intervals are reproducible; every metric of one call sees the same resamples.
/// </summary>
public static class SeedBootstrap
{
    /// <summary>Estimates several metrics with intervals.</summary>
    /// <param name="clusterOfRun">The seed group (0 … clusters − 1) of each run.</param>
    /// <param name="statistics">Computes every metric from a weight (multiplicity) per run; NaN = undefined.</param>
    /// <param name="resamples">Number of resamples (≥ 1).</param>
    /// <param name="seed">The generator's seed.</param>
    /// <param name="confidence">The interval's coverage, in (0, 1).</param>
    /// <returns>One estimate per metric, in the order <paramref name="statistics"/> returns them.</returns>
    public static MetricEstimate[] Estimate(IReadOnlyList<int> clusterOfRun, Func<int[], double[]> statistics, int resamples, int seed, double confidence)
    {
        ArgumentNullException.ThrowIfNull(clusterOfRun);
        ArgumentNullException.ThrowIfNull(statistics);
        ArgumentOutOfRangeException.ThrowIfLessThan(resamples, 1);
        if (!(confidence is > 0 and < 1))
            throw new ArgumentOutOfRangeException(nameof(confidence), confidence, "Must be in (0, 1).");
        int runs = clusterOfRun.Count;
        int clusters = runs == 0 ? 0 : clusterOfRun.Max() + 1;
        var weights = new int[runs];
        Array.Fill(weights, 1);
        var point = statistics(weights);
        var replicates = point.Select(_ => new List<double>(resamples)).ToArray();
        var random = new Random(seed);
        var drawn = new int[clusters];
        for (int b = 0; b < resamples && clusters > 0; b++)
        {
            Array.Clear(drawn);
            for (int c = 0; c < clusters; c++)
                drawn[random.Next(clusters)]++;
            for (int r = 0; r < runs; r++)
                weights[r] = drawn[clusterOfRun[r]];
            var values = statistics(weights);
            for (int m = 0; m < values.Length; m++)
            {
                if (!double.IsNaN(values[m]))
                    replicates[m].Add(values[m]);
            }
        }

        double alpha = 1 - confidence;
        var result = new MetricEstimate[point.Length];
        for (int m = 0; m < point.Length; m++)
        {
            var sample = replicates[m];
            result[m] = sample.Count * 2 < resamples || sample.Count == 0
                ? MetricEstimate.Point(point[m])
                : new MetricEstimate(
                    point[m],
                    sample.QuantileCustom(alpha / 2, QuantileDefinition.R7),
                    sample.QuantileCustom(1 - alpha / 2, QuantileDefinition.R7));
        }

        return result;
    }
}
