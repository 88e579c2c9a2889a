using System.Globalization;
using System.Text.Json.Nodes;

namespace SpectralAlign.Detection;

/// <summary>
/// Applies the detection rules of a <see cref="DetectionOptions"/> to a stream of <see cref="LayerMeasurement"/>s
/// (layer by layer) and of per-step <see cref="TrainingSignals"/> (run-level rules), and returns the alerts they
/// raise. <see cref="SpectralMonitor"/> uses one internally; create your own to replay a recorded run offline with
/// the same logic. Not thread-safe: feed it from one thread.
/// </summary>
public sealed class CollapseDetector
{
    private readonly DetectionOptions _options;
    private readonly Dictionary<string, LayerState> _layers = new(StringComparer.Ordinal);
    private readonly RunRuleState[] _runRules;

    /// <summary>Creates a detector.</summary>
    /// <param name="options">Rules, episode settings and calibration; <c>null</c> for the defaults. Copied, so later
    /// changes to the object have no effect.</param>
    /// <exception cref="ArgumentException">The options are invalid; the message lists every problem.</exception>
    public CollapseDetector(DetectionOptions? options = null)
    {
        _options = (options ?? new DetectionOptions()).Clone();
        var problems = _options.Validate();
        if (problems.Count > 0)
            throw new ArgumentException("Invalid detection options:" + Environment.NewLine + string.Join(Environment.NewLine, problems.Select(p => "  - " + p)), nameof(options));
        _runRules = _options.RunRules.Select(NewRunRule).ToArray();
    }

    /// <summary>Feeds the next measurement of a layer (in step order) and returns the alerts it raises.</summary>
    /// <param name="measurement">The measurement.</param>
    /// <returns>The alerts raised by this measurement; usually empty.</returns>
    public IReadOnlyList<CollapseAlert> Observe(LayerMeasurement measurement)
    {
        ArgumentNullException.ThrowIfNull(measurement);
        if (!_layers.TryGetValue(measurement.Layer, out var state))
        {
            state = new LayerState(_options, measurement.Layer);
            _layers.Add(measurement.Layer, state);
        }

        List<CollapseAlert>? alerts = null;
        var flags = measurement.Conditions;
        bool nonFinite = (flags & (MeasurementConditions.NonFiniteInput | MeasurementConditions.NonFiniteWeight)) != 0;
        if ((flags & MeasurementConditions.NoInput) == 0 || nonFinite)
        {
            if (state.NonFinite.Observe(nonFinite ? VerdictKind.Anomalous : VerdictKind.Normal, measurement.Step))
            {
                string detail = (flags & MeasurementConditions.NonFiniteWeight) != 0
                    ? "the weight contains NaN or infinite values"
                    : string.Create(CultureInfo.InvariantCulture, $"{measurement.Stats.NonFiniteRows} sampled input rows contain NaN or infinite values");
                (alerts ??= []).Add(LayerAlert(measurement, AlertReasons.NonFinite, detail, state.NonFinite.EpisodeStartStep));
            }
        }

        if (!IsJudged(measurement, _options))
            return alerts ?? (IReadOnlyList<CollapseAlert>)[];

        foreach (var rule in state.Rules)
        {
            var verdict = rule.Detector.Observe(measurement);
            if (rule.Episode.Observe(verdict.Kind, measurement.Step))
                (alerts ??= []).Add(LayerAlert(measurement, rule.Reason, verdict.Detail, rule.Episode.EpisodeStartStep));
        }

        return alerts ?? (IReadOnlyList<CollapseAlert>)[];
    }

    /// <summary>Feeds one step's run-level signals to the run rules (in step order) and returns the alerts they
    /// raise. Steps before <see cref="DetectionOptions.WarmupSteps"/> are ignored.</summary>
    /// <param name="step">The step.</param>
    /// <param name="signals">Its signals.</param>
    /// <returns>The alerts; usually empty.</returns>
    public IReadOnlyList<CollapseAlert> ObserveSignals(long step, TrainingSignals signals)
    {
        if (_runRules.Length == 0 || step < _options.WarmupSteps)
            return [];
        List<CollapseAlert>? alerts = null;
        foreach (var rule in _runRules)
        {
            if (rule.Scorer.Score(step, signals) is not { } score)
                continue;
            bool anomalous = score >= rule.Threshold;
            if (rule.Episode.Observe(anomalous ? VerdictKind.Anomalous : VerdictKind.Normal, step))
            {
                (alerts ??= []).Add(new CollapseAlert
                {
                    Layer = CollapseAlert.RunLayer,
                    Step = step,
                    Reason = rule.Reason,
                    Detail = rule.Scorer.Describe(score, rule.Threshold),
                    EpisodeStartStep = rule.Episode.EpisodeStartStep,
                });
            }
        }

        return alerts ?? (IReadOnlyList<CollapseAlert>)[];
    }

    /// <summary>Whether an alert of <paramref name="reason"/> is currently active (raised and not yet recovered)
    /// for <paramref name="layer"/> (or <see cref="CollapseAlert.RunLayer"/>).</summary>
    /// <param name="layer">The layer name.</param>
    /// <param name="reason">The alert reason.</param>
    /// <returns><c>true</c> while the episode lasts.</returns>
    public bool IsAlerted(string layer, string reason)
    {
        if (layer == CollapseAlert.RunLayer)
            return _runRules.Any(r => r.Reason == reason && r.Episode.Alerted);
        if (!_layers.TryGetValue(layer, out var state))
            return false;
        if (reason == AlertReasons.NonFinite)
            return state.NonFinite.Alerted;
        return state.Rules.Any(r => r.Reason == reason && r.Episode.Alerted);
    }

    /// <summary>
    /// The detector's state (per layer: episodes and the state of every rule whose detector is an
    /// <see cref="IPersistentDetector"/>; run rules' episodes), for a checkpoint.
    /// </summary>
    /// <returns>A JSON object that <see cref="LoadState"/> accepts.</returns>
    public JsonObject SaveState()
    {
        var layers = new JsonObject();
        foreach (var (name, state) in _layers)
        {
            layers[name] = new JsonObject
            {
                ["nonFinite"] = state.NonFinite.SaveState(),
                ["rules"] = new JsonArray(state.Rules.Select(r => (JsonNode)new JsonObject
                {
                    ["reason"] = r.Reason,
                    ["episode"] = r.Episode.SaveState(),
                    ["detector"] = r.Detector is IPersistentDetector p ? p.SaveState() : null,
                }).ToArray()),
            };
        }

        var runRules = new JsonArray(_runRules.Select(r => (JsonNode)new JsonObject
        {
            ["reason"] = r.Reason,
            ["episode"] = r.Episode.SaveState(),
            ["scorer"] = r.Scorer is IPersistentScorer p ? p.SaveState() : null,
        }).ToArray());
        return new JsonObject { ["layers"] = layers, ["runRules"] = runRules };
    }

    /// <summary>Restores a state saved by <see cref="SaveState"/>. Layers and rules are matched by name and reason;
    /// a rule whose state cannot be restored starts afresh (and is listed in the result).</summary>
    /// <param name="state">The saved state.</param>
    /// <returns>Descriptions of what could not be restored; empty when everything was.</returns>
    public IReadOnlyList<string> LoadState(JsonObject state)
    {
        ArgumentNullException.ThrowIfNull(state);
        var problems = new List<string>();
        _layers.Clear();
        foreach (var (name, node) in state["layers"]!.AsObject())
        {
            var layer = new LayerState(_options, name);
            _layers[name] = layer;
            layer.NonFinite.LoadState(node!["nonFinite"]!);
            var saved = node["rules"]!.AsArray().Select(r => r!.AsObject()).ToList();
            foreach (var rule in layer.Rules)
            {
                var match = saved.FirstOrDefault(r => r["reason"]!.GetValue<string>() == rule.Reason);
                if (match is null)
                {
                    problems.Add($"{name}: no saved state for rule '{rule.Reason}'; it starts afresh");
                }
                else if (rule.Detector is IPersistentDetector persistent && match["detector"] is { } detectorState)
                {
                    persistent.LoadState(detectorState);
                    rule.Episode.LoadState(match["episode"]!);
                }
                else if (rule.Detector is not IPersistentDetector && match["detector"] is null)
                {
                    rule.Episode.LoadState(match["episode"]!);
                }
                else
                {
                    problems.Add($"{name}: the detector of rule '{rule.Reason}' cannot restore its state; it starts afresh");
                }
            }
        }

        var savedRunRules = state["runRules"]?.AsArray().Select(r => r!.AsObject()).ToList() ?? [];
        foreach (var rule in _runRules)
        {
            var match = savedRunRules.FirstOrDefault(r => r["reason"]!.GetValue<string>() == rule.Reason);
            if (match is null)
            {
                problems.Add($"{CollapseAlert.RunLayer}: no saved state for rule '{rule.Reason}'; it starts afresh");
                continue;
            }

            rule.Episode.LoadState(match["episode"]!);
            if (rule.Scorer is IPersistentScorer p && match["scorer"] is { } scorerState)
                p.LoadState(scorerState);
        }

        return problems;
    }

    /// <summary>Forgets everything known about a layer (its baselines and episodes).</summary>
    /// <param name="layer">The layer name.</param>
    public void Reset(string layer) => _layers.Remove(layer);

    /// <summary>Whether the rules judge a measurement: after the warm-up, with a usable SA distribution (enough valid
    /// rows, finite weight, input present).</summary>
    internal static bool IsJudged(LayerMeasurement m, DetectionOptions options) =>
        m.Step >= options.WarmupSteps
        && (m.Conditions & (MeasurementConditions.NonFiniteInput | MeasurementConditions.NonFiniteWeight | MeasurementConditions.NoInput
            | MeasurementConditions.ZeroWeight | MeasurementConditions.NoValidRows)) == 0
        && m.Stats.Count >= options.MinSamples;

    private RunRuleState NewRunRule(ScoredRunRule rule) => new(
        rule.Reason,
        rule.CreateScorer(),
        _options.Calibration?.ThresholdFor(rule.Reason, CollapseAlert.RunLayer) ?? rule.Threshold,
        new AlertEpisode(_options.ConsecutiveMeasurements, _options.RecoveryMeasurements));

    private static CollapseAlert LayerAlert(LayerMeasurement m, string reason, string detail, long start) => new()
    {
        Layer = m.Layer,
        Step = m.Step,
        Stats = m.Stats,
        Reason = reason,
        Detail = detail,
        EpisodeStartStep = start,
        Measurement = m,
    };

    private sealed class LayerState
    {
        public LayerState(DetectionOptions options, string layer)
        {
            NonFinite = new AlertEpisode(1, options.RecoveryMeasurements);
            Rules = options.Rules
                .Select(r => new RuleState(
                    r.Reason,
                    r is ScoredLayerRule scored
                        ? scored.CreateDetector(layer, options.Calibration?.ThresholdFor(r.Reason, layer) ?? scored.Threshold)
                        : r.CreateDetector(layer),
                    new AlertEpisode(options.ConsecutiveMeasurements, options.RecoveryMeasurements)))
                .ToArray();
        }

        public AlertEpisode NonFinite { get; }

        public RuleState[] Rules { get; }
    }

    private sealed record RuleState(string Reason, ILayerDetector Detector, AlertEpisode Episode);

    private sealed record RunRuleState(string Reason, IRunScorer Scorer, double Threshold, AlertEpisode Episode);
}
