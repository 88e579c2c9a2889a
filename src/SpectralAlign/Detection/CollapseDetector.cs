using System.Globalization;
using System.Text.Json.Nodes;

namespace SpectralAlign.Detection;

/// <summary>
/// Applies the detection rules of a <see cref="DetectionOptions"/> to a stream of <see cref="LayerMeasurement"/>s,
/// layer by layer, and returns the alerts they raise. <see cref="SpectralMonitor"/> uses one internally; create your
/// own to replay recorded measurements offline with the same logic. Not thread-safe: feed it from one thread.
/// </summary>
public sealed class CollapseDetector
{
    private readonly DetectionOptions _options;
    private readonly Dictionary<string, LayerState> _layers = new(StringComparer.Ordinal);

    /// <summary>Creates a detector.</summary>
    /// <param name="options">Rules and episode settings; <c>null</c> for the defaults. Copied, so later changes to
    /// the object have no effect.</param>
    /// <exception cref="ArgumentException">The options are invalid; the message lists every problem.</exception>
    public CollapseDetector(DetectionOptions? options = null)
    {
        _options = (options ?? new DetectionOptions()).Clone();
        var problems = _options.Validate();
        if (problems.Count > 0)
            throw new ArgumentException("Invalid detection options:" + Environment.NewLine + string.Join(Environment.NewLine, problems.Select(p => "  - " + p)), nameof(options));
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
                (alerts ??= []).Add(CreateAlert(measurement, AlertReasons.NonFinite, detail, state.NonFinite.EpisodeStartStep));
            }
        }

        bool usable = !nonFinite
            && (flags & (MeasurementConditions.NoInput | MeasurementConditions.ZeroWeight | MeasurementConditions.NoValidRows)) == 0
            && measurement.Stats.Count >= _options.MinSamples;
        if (!usable)
            return alerts ?? (IReadOnlyList<CollapseAlert>)[];

        if (state.UsableSeen++ < _options.WarmupMeasurements)
            return alerts ?? (IReadOnlyList<CollapseAlert>)[];

        foreach (var rule in state.Rules)
        {
            var verdict = rule.Detector.Observe(measurement);
            if (rule.Episode.Observe(verdict.Kind, measurement.Step))
                (alerts ??= []).Add(CreateAlert(measurement, rule.Reason, verdict.Detail, rule.Episode.EpisodeStartStep));
        }

        return alerts ?? (IReadOnlyList<CollapseAlert>)[];
    }

    /// <summary>Whether an alert of <paramref name="reason"/> is currently active (raised and not yet recovered)
    /// for <paramref name="layer"/>.</summary>
    /// <param name="layer">The layer name.</param>
    /// <param name="reason">The alert reason.</param>
    /// <returns><c>true</c> while the episode lasts.</returns>
    public bool IsAlerted(string layer, string reason)
    {
        if (!_layers.TryGetValue(layer, out var state))
            return false;
        if (reason == AlertReasons.NonFinite)
            return state.NonFinite.Alerted;
        return state.Rules.Any(r => r.Reason == reason && r.Episode.Alerted);
    }

    /// <summary>
    /// The detector's state (per layer: warm-up progress, episodes, and the state of every rule whose detector is an
    /// <see cref="IPersistentDetector"/>), for a checkpoint.
    /// </summary>
    /// <returns>A JSON object that <see cref="LoadState"/> accepts.</returns>
    public JsonObject SaveState()
    {
        var layers = new JsonObject();
        foreach (var (name, state) in _layers)
        {
            layers[name] = new JsonObject
            {
                ["usableSeen"] = state.UsableSeen,
                ["nonFinite"] = state.NonFinite.SaveState(),
                ["rules"] = new JsonArray(state.Rules.Select(r => (JsonNode)new JsonObject
                {
                    ["reason"] = r.Reason,
                    ["episode"] = r.Episode.SaveState(),
                    ["detector"] = r.Detector is IPersistentDetector p ? p.SaveState() : null,
                }).ToArray()),
            };
        }

        return new JsonObject { ["layers"] = layers };
    }

    /// <summary>Restores a state saved by <see cref="SaveState"/>. Layers and rules are matched by name and reason;
    /// a rule whose detector cannot be restored starts afresh (and is listed in the result).</summary>
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
            layer.UsableSeen = node!["usableSeen"]!.GetValue<int>();
            layer.NonFinite.LoadState(node["nonFinite"]!);
            var saved = node["rules"]!.AsArray().Select(r => r!.AsObject()).ToList();
            foreach (var rule in layer.Rules)
            {
                var match = saved.FirstOrDefault(r => r["reason"]!.GetValue<string>() == rule.Reason);
                if (match is null)
                {
                    problems.Add($"{name}: no saved state for rule '{rule.Reason}'; it starts afresh");
                    continue;
                }

                if (rule.Detector is IPersistentDetector persistent && match["detector"] is { } detectorState)
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

        return problems;
    }

    /// <summary>Forgets everything known about a layer (its warm-up, baselines and episodes).</summary>
    /// <param name="layer">The layer name.</param>
    public void Reset(string layer) => _layers.Remove(layer);

    private static CollapseAlert CreateAlert(LayerMeasurement m, string reason, string detail, long start) => new()
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
                .Select(r => new RuleState(r.Reason, r.CreateDetector(layer), new AlertEpisode(options.ConsecutiveMeasurements, options.RecoveryMeasurements)))
                .ToArray();
        }

        public AlertEpisode NonFinite { get; }

        public RuleState[] Rules { get; }

        public int UsableSeen { get; set; }
    }

    private sealed record RuleState(string Reason, ILayerDetector Detector, AlertEpisode Episode);
}
