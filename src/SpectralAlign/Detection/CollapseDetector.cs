using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace SpectralAlign.Detection;

/// <summary>
/// Turns the scores of the rules in a <see cref="DetectionOptions"/> into alerts: it owns the thresholds (the rules'
/// own or calibrated ones), the warm-up, the episodes (an alert after <see cref="DetectionRule.Persistence"/>
/// anomalous observations in a row, one per episode, re-armed after <see cref="DetectionOptions.RecoveryMeasurements"/>
/// normal ones), the non-finite alerts, and the state of every scorer. <see cref="SpectralMonitor"/> uses one
/// internally; create your own to replay a recorded run offline with the same logic. Not thread-safe: feed it from one
/// thread, in step order.
/// </summary>
/// <remarks>
/// A rule never makes the detector throw: an exception from a rule's code (creating a scorer, scoring, describing,
/// saving or restoring its state, forming groups) drops that rule for that layer (or group, or the run), which then
/// stays silent until <see cref="Reset"/> or a new detector; the monitor logs each such fault once.
/// </remarks>
public sealed class CollapseDetector
{
    private readonly DetectionOptions _options;
    private readonly LayerRule[] _layerRules;
    private readonly CrossLayerRule[] _crossRules;
    private readonly Dictionary<string, GroupTrack>[] _groups;
    private readonly bool[] _crossRuleFaulted;
    private readonly Dictionary<string, LayerTracks> _layers = new(StringComparer.Ordinal);
    private readonly List<RuleScore> _scores = [];
    private readonly List<RuleFault> _faults = [];
    private RuleTrack<TrainingSignals>[] _run;

    /// <summary>Creates a detector.</summary>
    /// <param name="options">Rules, episode settings and calibration; <c>null</c> for the defaults. Copied (the rules
    /// themselves are immutable), so later changes to the object have no effect.</param>
    /// <exception cref="ArgumentException">The options are invalid; the message lists every problem.</exception>
    public CollapseDetector(DetectionOptions? options = null)
    {
        _options = (options ?? new DetectionOptions()).Clone();
        OptionProblems.ThrowIfAny(_options.Validate(), nameof(DetectionOptions), nameof(options));
        _layerRules = [.. _options.Rules.OfType<LayerRule>()];
        _crossRules = [.. _options.Rules.OfType<CrossLayerRule>()];
        _groups = [.. _crossRules.Select(_ => new Dictionary<string, GroupTrack>(StringComparer.Ordinal))];
        _crossRuleFaulted = new bool[_crossRules.Length];
        _run = NewRunTracks();
        LastScores = _scores.AsReadOnly();
    }

    /// <summary>Every score the rules gave during the last <c>Observe…</c> call (replaced by the next call), with the
    /// threshold each was compared with: for evaluation by score (ROC curves) and calibration.</summary>
    /// <remarks>
    /// To replay a recorded run, create a detector with the rules to score
    /// (<c>new CollapseDetector(new DetectionOptions { Rules = [...] })</c>), call <see cref="ObserveStep"/> once per
    /// recorded step in step order — with that step's measurements (none on an unmeasured step) and its
    /// <see cref="TrainingSignals"/> — and read this list after each call: one entry per rule and subject (layer,
    /// group, or <see cref="CollapseAlert.RunLayer"/>) that could judge the step. A score is listed whether or not it
    /// reaches the threshold, and does not depend on persistence, recovery or calibration; only the spike checks
    /// (<see cref="SpikeRule"/>, <see cref="GradientNormEmaRule"/>) use their threshold in their own state (values at
    /// or above it stay out of the window, or are clipped). Subjects with no entry were warming (the detector's
    /// <see cref="DetectionOptions.WarmupSteps"/>, a rule's window), lacked what the rule needs, or were not judged
    /// (fewer than <see cref="DetectionOptions.MinSamples"/> valid rows, no input, a non-finite weight). Calling
    /// <see cref="Observe"/> and <see cref="ObserveSignals"/> separately for one step keeps only the last call's
    /// scores, and cross-layer rules run only in <see cref="ObserveStep"/>.
    /// </remarks>
    public IReadOnlyList<RuleScore> LastScores { get; }

    /// <summary>Feeds the next measurement of a layer (in step order) to the layer rules and the non-finite check, and
    /// returns the alerts it raises. Cross-layer rules need <see cref="ObserveStep"/>.</summary>
    /// <param name="measurement">The measurement.</param>
    /// <returns>The alerts raised by this measurement; usually empty.</returns>
    public IReadOnlyList<CollapseAlert> Observe(LayerMeasurement measurement)
    {
        ArgumentNullException.ThrowIfNull(measurement);
        _scores.Clear();
        List<CollapseAlert>? alerts = null;
        ObserveLayer(measurement, ref alerts);
        return alerts ?? (IReadOnlyList<CollapseAlert>)[];
    }

    /// <summary>Feeds one step's run-level signals to the run rules (in step order) and returns the alerts they
    /// raise. Steps before <see cref="DetectionOptions.WarmupSteps"/> are ignored.</summary>
    /// <param name="step">The step.</param>
    /// <param name="signals">Its signals.</param>
    /// <returns>The alerts; usually empty.</returns>
    public IReadOnlyList<CollapseAlert> ObserveSignals(long step, TrainingSignals signals)
    {
        _scores.Clear();
        List<CollapseAlert>? alerts = null;
        ObserveRun(step, signals, ref alerts);
        return alerts ?? (IReadOnlyList<CollapseAlert>)[];
    }

    /// <summary>Feeds one whole step — its measurements (any number of layers, none on an unmeasured step) and its
    /// signals — to every rule: layer rules per measurement, cross-layer rules over the step's usable measurements,
    /// run rules on the signals. Returns the alerts in that order.</summary>
    /// <param name="step">The step.</param>
    /// <param name="measurements">The measurements made at this step, at most one per layer, in the order the layers
    /// were watched.</param>
    /// <param name="signals">The step's signals; <c>default</c> when there are none.</param>
    /// <returns>The alerts; usually empty.</returns>
    /// <exception cref="ArgumentException">A measurement is null or of another step, or two are of the same layer;
    /// nothing is scored.</exception>
    public IReadOnlyList<CollapseAlert> ObserveStep(long step, IReadOnlyList<LayerMeasurement> measurements, TrainingSignals signals = default)
    {
        ArgumentNullException.ThrowIfNull(measurements);
        var layers = new HashSet<string>(StringComparer.Ordinal);
        foreach (var m in measurements)
        {
            if (m is null || m.Step != step)
                throw new ArgumentException(string.Create(CultureInfo.InvariantCulture, $"Every measurement must be of step {step} (found {(m is null ? "null" : m.Layer + "@" + m.Step)})."), nameof(measurements));
            if (!layers.Add(m.Layer))
                throw new ArgumentException(string.Create(CultureInfo.InvariantCulture, $"Layer '{m.Layer}' is measured twice at step {step}: a step holds at most one measurement per layer (keep the last when a resumed run's log repeats steps)."), nameof(measurements));
        }

        _scores.Clear();
        List<CollapseAlert>? alerts = null;
        foreach (var m in measurements)
            ObserveLayer(m, ref alerts);
        ObserveGroups(step, measurements, ref alerts);
        ObserveRun(step, signals, ref alerts);
        return alerts ?? (IReadOnlyList<CollapseAlert>)[];
    }

    /// <summary>Whether an alert of <paramref name="reason"/> is currently active (raised and not yet recovered)
    /// for <paramref name="layer"/> (a layer, a cross-layer rule's group, or <see cref="CollapseAlert.RunLayer"/>).</summary>
    /// <param name="layer">The layer, group or run name.</param>
    /// <param name="reason">The alert reason.</param>
    /// <returns><c>true</c> while the episode lasts.</returns>
    public bool IsAlerted(string layer, string reason)
    {
        if (layer == CollapseAlert.RunLayer)
            return _run.Any(t => t.Rule.Reason == reason && t.Episode.Alerted);
        if (_layers.TryGetValue(layer, out var state))
        {
            if (reason == AlertReasons.NonFinite)
                return state.NonFinite.Alerted;
            if (state.Tracks.Any(t => t.Rule.Reason == reason && t.Episode.Alerted))
                return true;
        }

        return _groups.Any(g => g.TryGetValue(layer, out var track) && track.Track.Rule.Reason == reason && track.Track.Episode.Alerted);
    }

    /// <summary>Forgets everything known about a layer: its scorers, episodes and faults, and those of every group it
    /// belongs to.</summary>
    /// <param name="layer">The layer name.</param>
    public void Reset(string layer)
    {
        _layers.Remove(layer);
        foreach (var groups in _groups)
        {
            foreach (var name in groups.Where(g => g.Key == layer || g.Value.Members.Contains(layer)).Select(g => g.Key).ToList())
                groups.Remove(name);
        }
    }

    /// <summary>The rule faults since the last call (each rule and subject faults once), for the monitor to log.</summary>
    internal IReadOnlyList<RuleFault> TakeFaults()
    {
        if (_faults.Count == 0)
            return [];
        var taken = _faults.ToArray();
        _faults.Clear();
        return taken;
    }

    /// <summary>The detector's state for a checkpoint — per layer, group and the run: episodes and every scorer's
    /// numbers — as an opaque JSON node that <see cref="LoadState"/> accepts.</summary>
    internal JsonNode SaveState()
    {
        const long step = -1; // a fault while saving is not tied to a step
        var state = new DetectorState
        {
            Layers = _layers.ToDictionary(
                l => l.Key,
                l => new LayerTracksState { NonFinite = l.Value.NonFinite.Save(), Rules = [.. l.Value.Tracks.Select(t => t.Save(_faults, step))] },
                StringComparer.Ordinal),
            Groups = [.. _groups.SelectMany(g => g.Values).Select(g =>
            {
                var saved = g.Track.Save(_faults, step);
                saved.Subject = g.Track.Subject;
                saved.Members = [.. g.Members];
                return saved;
            })],
            Run = [.. _run.Select(t => t.Save(_faults, step))],
        };
        return JsonSerializer.SerializeToNode(state, DetectorStateJsonContext.Default.DetectorState)!;
    }

    /// <summary>Restores a state saved by <see cref="SaveState"/> (<see cref="ReadState"/>, then
    /// <see cref="RestoreState"/>).</summary>
    /// <returns>Descriptions of what could not be restored; empty when everything was.</returns>
    /// <exception cref="InvalidDataException">The node is not a detector state; the message names the missing or bad
    /// field. Nothing was changed.</exception>
    internal IReadOnlyList<string> LoadState(JsonNode? node) => RestoreState(ReadState(node));

    /// <summary>Reads and validates a state saved by <see cref="SaveState"/>, changing nothing: the monitor reads its
    /// whole checkpoint before it drops or restores anything.</summary>
    /// <exception cref="InvalidDataException">The node is not a detector state; the message names the missing or bad
    /// field.</exception>
    internal static DetectorState ReadState(JsonNode? node)
    {
        DetectorState state;
        try
        {
            state = node?.Deserialize(DetectorStateJsonContext.Default.DetectorState) ?? throw new InvalidDataException("The detector state is missing.");
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException($"The detector state is invalid: {ex.Message}", ex);
        }

        state.ThrowIfInvalid();
        return state;
    }

    /// <summary>Restores a state read by <see cref="ReadState"/>, replacing everything this detector knew. Layers,
    /// groups and rules are matched by name and reason; a rule whose state is missing or does not fit starts afresh
    /// and is listed in the result. Does not throw.</summary>
    /// <returns>Descriptions of what could not be restored; empty when everything was.</returns>
    internal IReadOnlyList<string> RestoreState(DetectorState state)
    {
        var problems = new List<string>();
        _layers.Clear();
        foreach (var (name, saved) in state.Layers)
        {
            var layer = new LayerTracks(this, name);
            _layers[name] = layer;
            layer.NonFinite.Load(saved.NonFinite);
            Restore(name, layer.Tracks, saved.Rules, problems);
        }

        foreach (var groups in _groups)
            groups.Clear();
        foreach (var saved in state.Groups)
        {
            int index = Array.FindIndex(_crossRules, r => r.Reason == saved.Reason);
            if (index < 0 || saved.Subject is null)
                continue;
            var group = NewGroup(_crossRules[index], saved.Subject, saved.Members ?? []);
            _groups[index][saved.Subject] = group;
            if (group.Track.Load(saved) is { } why)
                problems.Add($"{saved.Subject}: rule '{saved.Reason}' starts afresh: {why}");
        }

        _run = NewRunTracks();
        Restore(CollapseAlert.RunLayer, _run, state.Run, problems);
        return problems;
    }

    /// <summary>Whether the rules judge a measurement: after the warm-up, with a usable SA distribution (enough valid
    /// rows, finite and non-zero weight, input present).</summary>
    internal static bool IsJudged(LayerMeasurement m, DetectionOptions options) =>
        m.Step >= options.WarmupSteps
        && (m.Conditions & (MeasurementConditions.NonFiniteInput | MeasurementConditions.NonFiniteWeight | MeasurementConditions.NoInput
            | MeasurementConditions.ZeroWeight | MeasurementConditions.NoValidRows)) == 0
        && m.Stats.Count >= options.MinSamples;

    private static void Restore<T>(string subject, IEnumerable<RuleTrack<T>> tracks, List<TrackState> saved, List<string> problems)
    {
        foreach (var track in tracks)
        {
            var match = saved.FirstOrDefault(s => s.Reason == track.Rule.Reason);
            if (match is null)
                problems.Add($"{subject}: no saved state for rule '{track.Rule.Reason}'; it starts afresh");
            else if (track.Load(match) is { } why)
                problems.Add($"{subject}: rule '{track.Rule.Reason}' starts afresh: {why}");
        }
    }

    private void ObserveLayer(LayerMeasurement m, ref List<CollapseAlert>? alerts)
    {
        if (!_layers.TryGetValue(m.Layer, out var state))
        {
            state = new LayerTracks(this, m.Layer);
            _layers.Add(m.Layer, state);
        }

        var flags = m.Conditions;
        bool nonFinite = (flags & (MeasurementConditions.NonFiniteInput | MeasurementConditions.NonFiniteWeight)) != 0;
        if (((flags & MeasurementConditions.NoInput) == 0 || nonFinite) && state.NonFinite.Observe(nonFinite, m.Step))
        {
            string detail = (flags & MeasurementConditions.NonFiniteWeight) != 0
                ? "the weight contains NaN or infinite values"
                : string.Create(CultureInfo.InvariantCulture, $"{m.Stats.NonFiniteRows} sampled input rows contain NaN or infinite values");
            (alerts ??= []).Add(Alert(m.Layer, m.Step, AlertReasons.NonFinite, detail, state.NonFinite.EpisodeStartStep, m));
        }

        if (!IsJudged(m, _options))
            return;
        foreach (var track in state.Tracks)
        {
            if (track.Observe(m.Step, m, _scores, _faults) is { } detail)
                (alerts ??= []).Add(Alert(m.Layer, m.Step, track.Rule.Reason, detail, track.Episode.EpisodeStartStep, m));
        }
    }

    private void ObserveGroups(long step, IReadOnlyList<LayerMeasurement> measurements, ref List<CollapseAlert>? alerts)
    {
        if (_crossRules.Length == 0 || step < _options.WarmupSteps)
            return;
        var usable = measurements.Where(m => IsJudged(m, _options)).ToList();
        if (usable.Count == 0)
            return;
        for (int i = 0; i < _crossRules.Length; i++)
        {
            if (_crossRuleFaulted[i])
                continue;
            var rule = _crossRules[i];
            List<(string Group, LayerMeasurement[] Members)> groups;
#pragma warning disable CA1031 // A rule must never throw into the training loop.
            try
            {
                groups = [.. rule.Group(usable).Select(g => (g.Group, Members(rule, g.Group, g.Members)))];
            }
            catch (Exception ex)
            {
                _crossRuleFaulted[i] = true;
                _faults.Add(new RuleFault(rule.Reason, RuleFault.AllSubjects, step, ex));
                continue;
            }
#pragma warning restore CA1031

            foreach (var (name, members) in groups)
            {
                if (!_groups[i].TryGetValue(name, out var group))
                {
                    group = NewGroup(rule, name, members.Select(m => m.Layer));
                    _groups[i].Add(name, group);
                }

                if (group.Track.Observe(step, members, _scores, _faults) is { } detail)
                    (alerts ??= []).Add(Alert(name, step, rule.Reason, detail, group.Track.Episode.EpisodeStartStep, null));
            }
        }
    }

    /// <summary>A group's members, copied (so the rule's list is enumerated once, inside the rule's isolation) and
    /// checked: a group without a name or members, or with a <c>null</c> member, is a fault of the rule.</summary>
    private static LayerMeasurement[] Members(CrossLayerRule rule, string? group, IReadOnlyList<LayerMeasurement>? members)
    {
        if (group is null || members is null)
            throw new InvalidOperationException($"{rule.GetType().Name}.Group returned a group without a name or members.");
        LayerMeasurement[] copy = [.. members];
        if (Array.IndexOf(copy, null) >= 0)
            throw new InvalidOperationException($"{rule.GetType().Name}.Group returned group '{group}' with a null member.");
        return copy;
    }

    private void ObserveRun(long step, TrainingSignals signals, ref List<CollapseAlert>? alerts)
    {
        if (_run.Length == 0 || step < _options.WarmupSteps || (signals.Loss is null && signals.GradientNorm is null))
            return;
        foreach (var track in _run)
        {
            if (track.Observe(step, signals, _scores, _faults) is { } detail)
                (alerts ??= []).Add(Alert(CollapseAlert.RunLayer, step, track.Rule.Reason, detail, track.Episode.EpisodeStartStep, null));
        }
    }

    private RuleTrack<TrainingSignals>[] NewRunTracks() =>
        [.. _options.Rules.OfType<RunRule>().Select(r => Track(r, CollapseAlert.RunLayer, r.CreateScorer))];

    private GroupTrack NewGroup(CrossLayerRule rule, string name, IEnumerable<string> members) =>
        new(Track(rule, name, () => rule.CreateScorer(name)), [.. members]);

    private RuleTrack<T> Track<T>(DetectionRule rule, string subject, Func<RuleScorer<T>> create) => new(
        rule,
        subject,
        _options.Calibration?.ThresholdFor(rule.Reason, subject) ?? rule.Threshold,
        rule.Persistence ?? _options.ConsecutiveMeasurements,
        _options.RecoveryMeasurements,
        create);

    private static CollapseAlert Alert(string subject, long step, string reason, string detail, long start, LayerMeasurement? m) => new()
    {
        Layer = subject,
        Step = step,
        Stats = m?.Stats ?? SpectralAlignmentStats.Empty,
        Reason = reason,
        Detail = detail,
        EpisodeStartStep = start,
        Measurement = m,
    };

    /// <summary>A layer's non-finite episode and its layer-rule tracks.</summary>
    private sealed class LayerTracks(CollapseDetector detector, string layer)
    {
        public AlertEpisode NonFinite { get; } = new(1, detector._options.RecoveryMeasurements);

        public RuleTrack<LayerMeasurement>[] Tracks { get; } =
            [.. detector._layerRules.Select(r => detector.Track(r, layer, () => r.CreateScorer(layer)))];
    }

    /// <summary>A cross-layer rule's track for one group, with the group's member layers (for <see cref="Reset"/>).</summary>
    private sealed record GroupTrack(RuleTrack<IReadOnlyList<LayerMeasurement>> Track, HashSet<string> Members);
}
