namespace SpectralAlign.Detection;

/// <summary>
/// Fits per-layer thresholds for the rules of a <see cref="DetectionOptions"/> on healthy reference runs, for a
/// chosen false-alarm budget.
/// </summary>
/// <remarks>
/// <para>
/// Each reference run is replayed through a <see cref="CollapseDetector"/> (same warm-up, usability filters and
/// groups; its <see cref="CollapseDetector.LastScores"/>); a step the run holds more than once — a run log appended to
/// after resuming from an older checkpoint — is replayed once, with the last measurement of each layer and the last
/// signals of that step. For a layer rule (and a cross-layer rule, per group), every
/// layer's scores are first put on a common scale: z = (score − m) / s, with m the median and s the robust spread
/// (1.4826·MAD) of that layer's scores over all reference runs (a layer whose spread is tiny gets a tenth of the median
/// spread of all layers, so that noise it never showed is not a 100σ event). A run's <em>sustained</em> z is the
/// minimum of the last p values, p being the rule's persistence (<see cref="DetectionRule.Persistence"/>, or
/// <see cref="DetectionOptions.ConsecutiveMeasurements"/>) — the highest level that run would have crossed for long
/// enough to alarm — and its maximum over all layers and times is what the run needs to stay silent.
/// </para>
/// <para>
/// With R runs and budget b, the common level Z is the ⌈(1 − b)·R⌉-th smallest of the runs' maxima (budget 0: the
/// largest), raised by <c>margin</c>·|Z|; each layer's threshold is m + Z·s. Taking the maximum over all layers
/// accounts for the many layers a model has: a per-layer maximum over a few runs would be exceeded somewhere in
/// almost every new run. Run rules have a single series per run; their threshold is the fitted quantile of the runs'
/// maximum sustained scores, raised by the margin. Medians are computed by selection, in linear expected time.
/// </para>
/// </remarks>
public static class DetectionCalibrator
{
    /// <summary>Fits the thresholds.</summary>
    /// <param name="healthyRuns">Healthy reference runs of the model (several seeds).</param>
    /// <param name="options">The detection options whose rules are calibrated (their calibration is ignored).</param>
    /// <param name="falseAlarmBudget">Fraction of reference runs allowed to alarm, in [0, 1). Default 0.</param>
    /// <param name="margin">Relative margin above the fitted level, ≥ 0. Default 0.25: with a few reference runs
    /// the observed maximum underestimates the tail of healthy runs (see the README's evaluation).</param>
    /// <param name="description">What the reference runs were (stored in the calibration).</param>
    /// <returns>The calibration.</returns>
    /// <exception cref="ArgumentException">No runs, or invalid options, budget or margin: every problem is listed, in
    /// the format of every options type's message; the parameter named is that of the first problem.</exception>
    /// <exception cref="InvalidOperationException">A rule threw while scoring a reference run.</exception>
    public static DetectionCalibration Fit(IEnumerable<CalibrationRun> healthyRuns, DetectionOptions options, double falseAlarmBudget = 0, double margin = 0.25, string description = "")
    {
        ArgumentNullException.ThrowIfNull(healthyRuns);
        ArgumentNullException.ThrowIfNull(options);
        var runs = healthyRuns.ToList();
        var problems = options.Validate().ToList();
        string? paramName = problems.Count > 0 ? nameof(options) : null;
        void Add(string problem, string parameter)
        {
            problems.Add(problem);
            paramName ??= parameter;
        }

        if (runs.Count == 0)
            Add("at least one healthy reference run is needed", nameof(healthyRuns));
        if (!(falseAlarmBudget >= 0 && falseAlarmBudget < 1))
            Add($"the false-alarm budget must be in [0, 1) (was {falseAlarmBudget})", nameof(falseAlarmBudget));
        if (!(margin >= 0) || double.IsInfinity(margin))
            Add($"the margin must be a finite number >= 0 (was {margin})", nameof(margin));
        OptionProblems.ThrowIfAny(problems, "DetectionCalibrator.Fit arguments", paramName ?? nameof(options));

        var uncalibrated = options.Clone();
        uncalibrated.Calibration = null;
        var scores = runs.Select(run => Replay(run, uncalibrated)).ToList();
        var thresholds = new Dictionary<string, IReadOnlyDictionary<string, double>>(StringComparer.Ordinal);
        foreach (var rule in uncalibrated.Rules)
        {
            int persistence = rule.Persistence ?? options.ConsecutiveMeasurements;
            var perRun = scores.Select(run => run.GetValueOrDefault(rule.Reason) ?? []).ToList();
            var fitted = rule is RunRule ? FitRun(perRun, persistence, falseAlarmBudget, margin) : FitSubjects(perRun, persistence, falseAlarmBudget, margin);
            if (fitted is not null)
                thresholds[rule.Reason] = fitted;
        }

        return new DetectionCalibration(thresholds, falseAlarmBudget, margin, runs.Count, description);
    }

    /// <summary>A run's scores as the detector gives them: reason → subject → scores in step order.</summary>
    private static Dictionary<string, Dictionary<string, List<double>>> Replay(CalibrationRun run, DetectionOptions options)
    {
        var detector = new CollapseDetector(options);
        // A log appended to after resuming from an older checkpoint repeats steps: the later copy of a step's
        // measurement of a layer, or of its signals, replaces the earlier one (layers keep their first-seen order).
        var measurements = run.Measurements.GroupBy(m => m.Step)
            .ToDictionary(g => g.Key, g => g.GroupBy(m => m.Layer, StringComparer.Ordinal).Select(l => l.Last()).ToArray());
        var signals = run.Signals.GroupBy(s => s.Step).ToDictionary(g => g.Key, g => g.Last().Signals);
        var scores = new Dictionary<string, Dictionary<string, List<double>>>(StringComparer.Ordinal);
        foreach (long step in measurements.Keys.Concat(signals.Keys).Distinct().Order())
        {
            detector.ObserveStep(step, measurements.GetValueOrDefault(step) ?? [], signals.GetValueOrDefault(step));
            if (detector.TakeFaults() is [var fault, ..])
                throw new InvalidOperationException($"Rule '{fault.Reason}' threw on {fault.Subject} at step {fault.Step} while calibrating: {fault.Exception.Message}", fault.Exception);
            foreach (var score in detector.LastScores)
            {
                if (!scores.TryGetValue(score.Reason, out var bySubject))
                    scores[score.Reason] = bySubject = new(StringComparer.Ordinal);
                if (!bySubject.TryGetValue(score.Subject, out var series))
                    bySubject[score.Subject] = series = [];
                series.Add(score.Score);
            }
        }

        return scores;
    }

    /// <summary>Per-subject thresholds of a layer or cross-layer rule (see the remarks).</summary>
    private static Dictionary<string, double>? FitSubjects(List<Dictionary<string, List<double>>> runs, int persistence, double budget, double margin)
    {
        var scale = new Dictionary<string, (double Median, double Spread)>(StringComparer.Ordinal);
        foreach (var subject in runs.SelectMany(r => r.Keys).Distinct(StringComparer.Ordinal))
        {
            var all = runs.SelectMany(r => r.TryGetValue(subject, out var v) ? v : []).Where(double.IsFinite).ToList();
            if (all.Count > 0)
                scale[subject] = RobustStatistics.MedianAndSpread(all);
        }

        if (scale.Count == 0)
            return null;
        double floor = Math.Max(0.1 * RobustStatistics.Median(scale.Values.Select(v => v.Spread)), 1e-9);
        scale = scale.ToDictionary(l => l.Key, l => (l.Value.Median, Math.Max(l.Value.Spread, floor)), StringComparer.Ordinal);

        var runMaxima = new List<double>();
        foreach (var run in runs)
        {
            double? runMax = null;
            foreach (var (subject, series) in run)
            {
                if (!scale.TryGetValue(subject, out var s))
                    continue;
                var sustained = new Sustained(persistence);
                foreach (var x in series)
                    sustained.Add((x - s.Median) / s.Spread);
                if (sustained.Maximum is { } max)
                    runMax = runMax is { } r ? Math.Max(r, max) : max;
            }

            if (runMax is { } value)
                runMaxima.Add(value);
        }

        if (runMaxima.Count == 0)
            return null;
        double level = Threshold(runMaxima, budget, margin);
        return scale.ToDictionary(l => l.Key, l => l.Value.Median + level * l.Value.Spread, StringComparer.Ordinal);
    }

    /// <summary>The run-level threshold of a run rule: the fitted quantile of the runs' maximum sustained
    /// scores.</summary>
    private static Dictionary<string, double>? FitRun(List<Dictionary<string, List<double>>> runs, int persistence, double budget, double margin)
    {
        var maxima = new List<double>();
        foreach (var run in runs)
        {
            var sustained = new Sustained(persistence);
            foreach (var score in run.GetValueOrDefault(CollapseAlert.RunLayer) ?? [])
                sustained.Add(score);
            if (sustained.Maximum is { } max)
                maxima.Add(max);
        }

        return maxima.Count == 0 ? null : new Dictionary<string, double> { [CollapseAlert.RunLayer] = Threshold(maxima, budget, margin) };
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
