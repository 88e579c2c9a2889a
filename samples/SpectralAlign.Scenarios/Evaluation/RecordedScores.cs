using SpectralAlign.Scenarios.Analysis;

namespace SpectralAlign.Scenarios.Evaluation;

/// <summary>
/// Scores computed straight from the recorded series, without the library's rules, so that the evaluation by horizon
/// runs end to end before the rules are plugged in: the loss ratio to its running minimum, the gradient-norm z-score
/// over a trailing window, and the largest |mean SA| over the watched layers. Each is O(steps).
/// </summary>
public static class RecordedScores
{
    /// <summary>The window of the gradient-norm z-score (OLMo's spike check uses 128 steps).</summary>
    public const int GradientWindow = 128;

    /// <summary>The interim detectors, each with persistence 1 and 10 recorded steps as its candidate settings.</summary>
    public static IReadOnlyList<HorizonDetector> Detectors { get; } =
    [
        new("loss / running min", "baseline", Persistences(run => LossRatio(run))),
        new("grad-norm z (128 steps)", "baseline", Persistences(run => GradientNormZ(run, GradientWindow))),
        new("max |mean SA| over layers", "SA", Persistences(MaxAbsMeanAlignment)),
        new("max Jacobian alignment over layers", "spectral", Persistences(MaxUpstreamAlignment)),
        new("largest attention logit (recorded)", "reference", Persistences(MaxAttentionLogit)),
    ];

    /// <summary>The largest attention logit q·k/√d_head of each step's forward pass as the scenario recorded it (the
    /// true quantity the attention-logit rules bound from the monitor's statistics; not available to a monitor); NaN
    /// for models without attention.</summary>
    /// <param name="run">The run.</param>
    /// <returns>One score per recorded step.</returns>
    public static double[] MaxAttentionLogit(RunData run)
    {
        ArgumentNullException.ThrowIfNull(run);
        return [.. run.Steps.Select(s => s.MaxAttentionLogit ?? double.NaN)];
    }

    /// <summary>ℓ_t / min{ℓ_s : s &lt; t, ℓ_s finite}: NaN at the first step and where ℓ_t is not finite (that is at or
    /// after E anyway).</summary>
    /// <param name="run">The run.</param>
    /// <returns>One score per recorded step.</returns>
    public static double[] LossRatio(RunData run)
    {
        ArgumentNullException.ThrowIfNull(run);
        var scores = new double[run.Steps.Count];
        double min = double.PositiveInfinity;
        for (int i = 0; i < scores.Length; i++)
        {
            double loss = run.Steps[i].Loss;
            scores[i] = double.IsFinite(loss) && double.IsFinite(min) ? loss / min : double.NaN;
            if (double.IsFinite(loss))
                min = Math.Min(min, loss);
        }

        return scores;
    }

    /// <summary>(g_t − mean) / sd of the gradient norm g_t against the previous <paramref name="window"/> finite
    /// gradient norms (sample standard deviation); NaN until the window is full, where g_t is not finite, and where
    /// the window has no spread.</summary>
    /// <param name="run">The run.</param>
    /// <param name="window">Window length (≥ 2).</param>
    /// <returns>One score per recorded step.</returns>
    public static double[] GradientNormZ(RunData run, int window)
    {
        ArgumentNullException.ThrowIfNull(run);
        ArgumentOutOfRangeException.ThrowIfLessThan(window, 2);
        var scores = new double[run.Steps.Count];
        var ring = new double[window];
        int count = 0, next = 0;
        double shift = double.NaN, sum = 0, sumSq = 0; // sums of (g − shift), shifted against cancellation
        for (int i = 0; i < scores.Length; i++)
        {
            double g = run.Steps[i].GradNorm;
            scores[i] = double.NaN;
            if (!double.IsFinite(g))
                continue;
            if (count == window)
            {
                double mean = shift + sum / window;
                double variance = (sumSq - sum * sum / window) / (window - 1);
                if (variance > 0)
                    scores[i] = (g - mean) / Math.Sqrt(variance);
                double old = ring[next] - shift;
                sum -= old;
                sumSq -= old * old;
            }
            else
            {
                if (count == 0)
                    shift = g;
                count++;
            }

            ring[next] = g;
            next = (next + 1) % window;
            double d = g - shift;
            sum += d;
            sumSq += d * d;
            if (count == window && next == 0)
            {
                // Once per window: re-centre on the window's mean and recompute the sums exactly (O(1) amortised),
                // so that a drifting gradient norm does not bring the cancellation back.
                shift = ring.Average();
                sum = 0;
                sumSq = 0;
                foreach (double x in ring)
                {
                    sum += x - shift;
                    sumSq += (x - shift) * (x - shift);
                }
            }
        }

        return scores;
    }

    /// <summary>The largest |mean SA| over the watched layers at each measured step, held until the next measurement;
    /// NaN before the first measurement (non-finite layer values are skipped).</summary>
    /// <param name="run">The run.</param>
    /// <returns>One score per recorded step.</returns>
    public static double[] MaxAbsMeanAlignment(RunData run) => MaxOverLayers(run, m => m.Stats.AbsMean);

    /// <summary>The largest Jacobian alignment between adjacent layers (<see cref="LayerMeasurement.UpstreamAlignment"/>,
    /// MSign's second precursor) over the linked layers at each measured step, held until the next measurement; NaN
    /// where no layer is linked.</summary>
    /// <param name="run">The run.</param>
    /// <returns>One score per recorded step.</returns>
    public static double[] MaxUpstreamAlignment(RunData run) => MaxOverLayers(run, m => m.UpstreamAlignment);

    /// <summary>The largest finite value of a layer statistic over the watched layers at each measured step, held until
    /// the next measurement; NaN before the first finite one.</summary>
    /// <param name="run">The run.</param>
    /// <param name="statistic">The statistic.</param>
    /// <returns>One score per recorded step.</returns>
    public static double[] MaxOverLayers(RunData run, Func<LayerMeasurement, double> statistic)
    {
        ArgumentNullException.ThrowIfNull(run);
        ArgumentNullException.ThrowIfNull(statistic);
        var byStep = new Dictionary<long, double>();
        foreach (var list in run.Measurements.Values)
        {
            foreach (var m in list)
            {
                double v = statistic(m);
                if (!double.IsFinite(v))
                    continue;
                byStep[m.Step] = byStep.TryGetValue(m.Step, out double max) ? Math.Max(max, v) : v;
            }
        }

        var scores = new double[run.Steps.Count];
        double last = double.NaN;
        for (int i = 0; i < scores.Length; i++)
        {
            if (byStep.TryGetValue(run.Steps[i].Step, out double v))
                last = v;
            scores[i] = last;
        }

        return scores;
    }

    private static DetectorSetting[] Persistences(Func<RunData, double[]> score) =>
    [
        new("k = 1", run => new ScoreSeries(score(run)), 1),
        new("k = 10", run => new ScoreSeries(score(run)), 10),
    ];
}
