namespace SpectralAlign.Detection;

/// <summary>
/// Fits per-layer thresholds for the scored rules of a <see cref="DetectionOptions"/> on healthy reference runs, for
/// a chosen false-alarm budget.
/// </summary>
/// <remarks>
/// <para>
/// Each reference run is replayed exactly as <see cref="CollapseDetector"/> would judge it (same warm-up, same
/// usability filters). For a layer rule, every layer's scores are first put on a common scale: z = (score − m) / s,
/// with m the median and s the robust spread (1.4826·MAD) of that layer's scores over all reference runs (a layer
/// whose spread is tiny gets a tenth of the median spread of all layers, so that noise it never showed is not a
/// 100σ event). A run's <em>sustained</em> z is the minimum of the last
/// <see cref="DetectionOptions.ConsecutiveMeasurements"/> values — the highest level that run would have crossed for
/// long enough to alarm — and its maximum over all layers and times is what the run needs to stay silent.
/// </para>
/// <para>
/// With R runs and budget b, the common level Z is the ⌈(1 − b)·R⌉-th smallest of the runs' maxima (budget 0: the
/// largest), raised by <c>margin</c>·|Z|; each layer's threshold is m + Z·s. Taking the maximum over all layers
/// accounts for the many layers a model has: a per-layer maximum over a few runs would be exceeded somewhere in
/// almost every new run. Run rules have a single series per run; their threshold is the fitted quantile of the runs'
/// maximum sustained scores, raised by the margin.
/// </para>
/// </remarks>
public static class DetectionCalibrator
{
    /// <summary>Fits the thresholds.</summary>
    /// <param name="healthyRuns">Healthy reference runs of the model (several seeds).</param>
    /// <param name="options">The detection options whose scored rules are calibrated.</param>
    /// <param name="falseAlarmBudget">Fraction of reference runs allowed to alarm, in [0, 1). Default 0.</param>
    /// <param name="margin">Relative margin above the fitted level, ≥ 0. Default 0.25: with a few reference runs
    /// the observed maximum underestimates the tail of healthy runs (see the README's evaluation).</param>
    /// <param name="description">What the reference runs were (stored in the calibration).</param>
    /// <returns>The calibration.</returns>
    /// <exception cref="ArgumentException">No runs, or invalid options, budget or margin.</exception>
    public static DetectionCalibration Fit(IEnumerable<CalibrationRun> healthyRuns, DetectionOptions options, double falseAlarmBudget = 0, double margin = 0.25, string description = "")
    {
        ArgumentNullException.ThrowIfNull(healthyRuns);
        ArgumentNullException.ThrowIfNull(options);
        var runs = healthyRuns.ToList();
        var problems = options.Validate().ToList();
        if (runs.Count == 0)
            problems.Add("at least one healthy reference run is needed");
        if (!(falseAlarmBudget >= 0 && falseAlarmBudget < 1))
            problems.Add($"the false-alarm budget must be in [0, 1) (was {falseAlarmBudget})");
        if (!(margin >= 0) || double.IsInfinity(margin))
            problems.Add($"the margin must be a finite number >= 0 (was {margin})");
        if (problems.Count > 0)
            throw new ArgumentException("Cannot calibrate: " + string.Join("; ", problems) + ".");

        var thresholds = new Dictionary<string, IReadOnlyDictionary<string, double>>(StringComparer.Ordinal);
        foreach (var rule in options.Rules.OfType<ScoredLayerRule>())
        {
            // Scores per run and layer, in step order, as the detector would see them.
            var scores = runs.Select(run => run.Measurements
                .GroupBy(m => m.Layer)
                .ToDictionary(
                    layer => layer.Key,
                    layer =>
                    {
                        var scorer = rule.CreateScorer(layer.Key);
                        return layer.OrderBy(m => m.Step).Where(m => CollapseDetector.IsJudged(m, options))
                            .Select(m => scorer.Score(m)).Where(x => x is not null).Select(x => x!.Value).ToList();
                    },
                    StringComparer.Ordinal)).ToList();

            var scale = new Dictionary<string, (double Median, double Spread)>(StringComparer.Ordinal);
            foreach (var layer in scores.SelectMany(r => r.Keys).Distinct(StringComparer.Ordinal))
            {
                var all = scores.SelectMany(r => r.TryGetValue(layer, out var v) ? v : []).Where(double.IsFinite).ToList();
                if (all.Count > 0)
                    scale[layer] = (Median(all), 1.4826 * Median(all.Select(v => Math.Abs(v - Median(all))).ToList()));
            }

            if (scale.Count == 0)
                continue;
            double floor = Math.Max(0.1 * Median(scale.Values.Select(v => v.Spread).ToList()), 1e-9);
            scale = scale.ToDictionary(l => l.Key, l => (l.Value.Median, Math.Max(l.Value.Spread, floor)), StringComparer.Ordinal);

            var runMaxima = new List<double>();
            foreach (var run in scores)
            {
                double? runMax = null;
                foreach (var (layer, series) in run)
                {
                    if (!scale.TryGetValue(layer, out var s))
                        continue;
                    var sustained = new Sustained(options.ConsecutiveMeasurements);
                    foreach (var x in series)
                        sustained.Add((x - s.Median) / s.Spread);
                    if (sustained.Maximum is { } max)
                        runMax = runMax is { } r ? Math.Max(r, max) : max;
                }

                if (runMax is { } value)
                    runMaxima.Add(value);
            }

            if (runMaxima.Count == 0)
                continue;
            double level = Threshold(runMaxima, falseAlarmBudget, margin);
            thresholds[rule.Reason] = scale.ToDictionary(l => l.Key, l => l.Value.Median + level * l.Value.Spread, StringComparer.Ordinal);
        }

        foreach (var rule in options.RunRules)
        {
            var maxima = new List<double>();
            foreach (var run in runs)
            {
                var scorer = rule.CreateScorer();
                var sustained = new Sustained(options.ConsecutiveMeasurements);
                foreach (var (step, signals) in run.Signals)
                {
                    if (step >= options.WarmupSteps && scorer.Score(step, signals) is { } score)
                        sustained.Add(score);
                }

                if (sustained.Maximum is { } max)
                    maxima.Add(max);
            }

            if (maxima.Count > 0)
                thresholds[rule.Reason] = new Dictionary<string, double> { [CollapseAlert.RunLayer] = Threshold(maxima, falseAlarmBudget, margin) };
        }

        return new DetectionCalibration(thresholds, falseAlarmBudget, margin, runs.Count, description);
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToArray();
        int n = sorted.Length;
        return n == 0 ? 0 : n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
    }

    private static double Threshold(List<double> runMaxima, double budget, double margin)
    {
        var sorted = runMaxima.Order().ToArray();
        int allowed = (int)Math.Floor(budget * sorted.Length);
        double value = sorted[sorted.Length - 1 - allowed];
        if (double.IsPositiveInfinity(value))
            return double.PositiveInfinity;
        // Strictly above the fitted value: a score equal to it would alarm.
        return value + Math.Max(margin * Math.Abs(value), 1e-9);
    }

    /// <summary>The running "minimum of the last n scores" and its maximum over the run.</summary>
    private sealed class Sustained(int consecutive)
    {
        private readonly Queue<double> _last = new();

        public double? Maximum { get; private set; }

        public void Add(double score)
        {
            _last.Enqueue(score);
            if (_last.Count > consecutive)
                _last.Dequeue();
            if (_last.Count == consecutive)
            {
                double sustained = _last.Min();
                Maximum = Maximum is { } m ? Math.Max(m, sustained) : sustained;
            }
        }
    }
}
