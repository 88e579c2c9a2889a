using System.Text.Json;
using System.Text.Json.Nodes;
using SpectralAlign.Guard.LearningRate;
using SpectralAlign.Telemetry;

namespace SpectralAlign;

/// <content>Saving and restoring the guard's state, together with its monitor's, for resuming a run.</content>
public sealed partial class TrainingGuard
{
    private const string StateFormat = "SpectralAlign.GuardState";
    private const int StateVersion = 1;

    /// <summary>
    /// Writes the guard's state — step counter, interventions made, the open episode and cooldown, the learning-rate
    /// back-off and its schedule, the loss-spike window — together with the monitor's state
    /// (<see cref="SpectralMonitor.SaveState(Stream)"/>, embedded), as one UTF-8 JSON document. Save it with the model's
    /// and optimizer's checkpoint. Snapshots are not included: they are copies of the model and optimizer, which the
    /// checkpoint holds; a resumed guard takes its first snapshot at its first step.
    /// </summary>
    /// <param name="stream">A writable stream; left open.</param>
    /// <exception cref="ObjectDisposedException">The guard or its monitor has been disposed.</exception>
    public void SaveState(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ObjectDisposedException.ThrowIf(_disposed, this);
        using var monitorState = new MemoryStream();
        _monitor.SaveState(monitorState);
        var (scale, unscaled, written) = _scaler.Save();
        var root = new JsonObject
        {
            ["format"] = StateFormat,
            ["version"] = StateVersion,
            ["step"] = _step,
            ["interventions"] = Interventions,
            ["exhaustedRaised"] = _exhaustedRaised,
            ["episodeStart"] = _episodeStart,
            ["lastTrigger"] = _lastTrigger,
            ["lastIntervention"] = _lastIntervention,
            ["schedule"] = new JsonObject
            {
                ["start"] = _schedule.Start,
                ["floor"] = _schedule.Floor,
                ["hold"] = _schedule.HoldSteps,
                ["ramp"] = _schedule.RampSteps,
            },
            ["scaler"] = new JsonObject
            {
                ["scale"] = scale,
                ["unscaled"] = Doubles(unscaled),
                ["written"] = Doubles(written),
            },
            ["losses"] = Doubles(_spikes.Save()),
            ["monitor"] = JsonNode.Parse(monitorState.ToArray()),
        };
        using var writer = new Utf8JsonWriter(stream);
        root.WriteTo(writer);
    }

    /// <summary>Writes the state to a file (see <see cref="SaveState(Stream)"/>).</summary>
    /// <param name="path">The file; overwritten.</param>
    public void SaveState(string path)
    {
        using var file = File.Create(path);
        SaveState(file);
    }

    /// <summary>
    /// Restores a state written by <see cref="SaveState(Stream)"/>, the monitor's included
    /// (<see cref="SpectralMonitor.LoadState(Stream)"/>). Call it on a new guard over the resumed model, optimizer and a
    /// monitor watching the same layers, before the first <see cref="Step"/>; the snapshots held are released.
    /// </summary>
    /// <param name="stream">A readable stream holding the state.</param>
    /// <returns>What could not be restored (the monitor's problems included); empty when everything was.</returns>
    /// <exception cref="InvalidDataException">The stream does not hold a guard state this version can read; nothing was
    /// changed.</exception>
    /// <exception cref="ObjectDisposedException">The guard or its monitor has been disposed.</exception>
    public IReadOnlyList<string> LoadState(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ObjectDisposedException.ThrowIf(_disposed, this);
        JsonObject root;
        try
        {
            root = JsonNode.Parse(stream)?.AsObject() ?? throw new InvalidDataException("The guard state is empty.");
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException($"The guard state is not valid JSON: {ex.Message}", ex);
        }

        if (root["format"]?.GetValue<string>() != StateFormat)
            throw new InvalidDataException($"Not a SpectralAlign guard state (expected format '{StateFormat}').");
        int version = root["version"]?.GetValue<int>() ?? 0;
        if (version != StateVersion)
            throw new InvalidDataException($"Guard state version {version} cannot be read by this version of SpectralAlign (reads version {StateVersion}).");

        // Read everything before changing anything: a missing or malformed field leaves the guard as it was.
        long step, lastTrigger, lastIntervention;
        long? episodeStart;
        int interventions;
        bool exhausted;
        RecoverySchedule schedule;
        double scale;
        double[] unscaled, written, losses;
        JsonNode monitor;
        try
        {
            step = Required(root, "step").GetValue<long>();
            interventions = Required(root, "interventions").GetValue<int>();
            exhausted = Required(root, "exhaustedRaised").GetValue<bool>();
            episodeStart = root["episodeStart"]?.GetValue<long>();
            lastTrigger = Required(root, "lastTrigger").GetValue<long>();
            lastIntervention = Required(root, "lastIntervention").GetValue<long>();
            var s = Required(root, "schedule");
            schedule = new RecoverySchedule(Required(s, "start").GetValue<long>(), Required(s, "floor").GetValue<double>(), Required(s, "hold").GetValue<int>(), Required(s, "ramp").GetValue<int>());
            var sc = Required(root, "scaler");
            scale = Required(sc, "scale").GetValue<double>();
            unscaled = ReadDoubles(Required(sc, "unscaled"));
            written = ReadDoubles(Required(sc, "written"));
            losses = ReadDoubles(Required(root, "losses"));
            monitor = Required(root, "monitor");
        }
        catch (Exception ex) when (ex is InvalidOperationException or FormatException)
        {
            throw new InvalidDataException($"The guard state has a malformed field: {ex.Message}", ex);
        }

        using var monitorState = new MemoryStream();
        using (var writer = new Utf8JsonWriter(monitorState))
            monitor.WriteTo(writer);
        monitorState.Position = 0;
        var problems = new List<string>(_monitor.LoadState(monitorState));

        _step = step;
        Interventions = interventions;
        _exhaustedRaised = exhausted;
        _episodeStart = episodeStart;
        _lastTrigger = lastTrigger;
        _lastIntervention = lastIntervention;
        _schedule = schedule;
        _scaler.Restore(scale, unscaled, written);
        _spikes.Restore(losses);
        _snapshots.Clear();
        if (_monitor.CurrentStep != _step)
            problems.Add($"the monitor's step ({_monitor.CurrentStep}) differs from the guard's ({_step})");
        foreach (var problem in problems)
            Log.GuardStateNotRestored(_logger, problem);
        return problems;
    }

    /// <summary>Restores a state from a file (see <see cref="LoadState(Stream)"/>).</summary>
    /// <param name="path">The file.</param>
    /// <returns>What could not be restored; empty when everything was.</returns>
    public IReadOnlyList<string> LoadState(string path)
    {
        using var file = File.OpenRead(path);
        return LoadState(file);
    }

    private static JsonNode Required(JsonNode node, string name) =>
        node[name] ?? throw new InvalidDataException($"The guard state lacks the field '{name}'.");

    /// <summary>Doubles as JSON, NaN as null (JSON has no NaN).</summary>
    private static JsonArray Doubles(IEnumerable<double> values) =>
        new([.. values.Select(v => double.IsNaN(v) ? null : JsonValue.Create(v))]);

    private static double[] ReadDoubles(JsonNode node) =>
        node.AsArray().Select(v => v is null ? double.NaN : v.GetValue<double>()).ToArray();
}
