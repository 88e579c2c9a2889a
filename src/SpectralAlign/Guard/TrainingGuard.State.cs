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
        JsonNode? parsed;
        try
        {
            parsed = JsonNode.Parse(stream);
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException($"The guard state is not valid JSON: {ex.Message}", ex);
        }

        if (parsed is not JsonObject root)
            throw new InvalidDataException($"The guard state must be a JSON object (found {(parsed is null ? "null" : parsed.GetValueKind().ToString())}).");
        if (!(root["format"] is JsonValue format && format.TryGetValue<string>(out var name) && name == StateFormat))
            throw new InvalidDataException($"Not a SpectralAlign guard state (expected format '{StateFormat}').");
        int version = Read<int>(root, "version");
        if (version != StateVersion)
            throw new InvalidDataException($"Guard state version {version} cannot be read by this version of SpectralAlign (reads version {StateVersion}).");

        // Read and check everything before changing anything: a missing or bad field leaves the guard (and its
        // monitor) as they were.
        long step = Read<long>(root, "step");
        int interventions = Read<int>(root, "interventions");
        bool exhausted = Read<bool>(root, "exhaustedRaised");
        long? episodeStart = root["episodeStart"] is null ? null : Read<long>(root, "episodeStart");
        long lastTrigger = Read<long>(root, "lastTrigger");
        long lastIntervention = Read<long>(root, "lastIntervention");
        var s = Object(root, "schedule");
        var schedule = new RecoverySchedule(Read<long>(s, "start", "schedule."), Read<double>(s, "floor", "schedule."), Read<int>(s, "hold", "schedule."), Read<int>(s, "ramp", "schedule."));
        var sc = Object(root, "scaler");
        double scale = Read<double>(sc, "scale", "scaler.");
        double[] unscaled = ReadDoubles(sc, "unscaled", "scaler.");
        double[] written = ReadDoubles(sc, "written", "scaler.");
        double[] losses = ReadDoubles(root, "losses");
        var monitor = Required(root, "monitor");
        Check(step >= 0, "step", "must be >= 0");
        Check(interventions >= 0, "interventions", "must be >= 0");
        Check(schedule.Floor > 0 && double.IsFinite(schedule.Floor), "schedule.floor", "must be a positive number");
        Check(schedule.HoldSteps >= 0, "schedule.hold", "must be >= 0");
        Check(schedule.RampSteps >= 0, "schedule.ramp", "must be >= 0");
        Check(scale > 0 && double.IsFinite(scale), "scaler.scale", "must be a positive number");
        Check(written.Length == unscaled.Length, "scaler.written", "must have as many entries as 'scaler.unscaled'");

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

    private static JsonNode Required(JsonNode node, string name, string prefix = "") =>
        node[name] ?? throw new InvalidDataException($"The guard state lacks the field '{prefix}{name}'.");

    private static JsonObject Object(JsonNode node, string name) =>
        Required(node, name) as JsonObject ?? throw new InvalidDataException($"The guard state's '{name}' must be a JSON object.");

    /// <summary>A field's value; the message of a missing or mistyped field names it.</summary>
    private static T Read<T>(JsonNode node, string name, string prefix = "")
    {
        var value = Required(node, name, prefix);
        if (value is JsonValue v && v.TryGetValue<T>(out var result))
            return result;
        throw new InvalidDataException($"The guard state's '{prefix}{name}' is not a valid {typeof(T).Name} ({value.ToJsonString()}).");
    }

    private static void Check(bool valid, string field, string requirement)
    {
        if (!valid)
            throw new InvalidDataException($"The guard state's '{field}' {requirement}.");
    }

    /// <summary>Doubles as JSON, NaN as null (JSON has no NaN).</summary>
    private static JsonArray Doubles(IEnumerable<double> values) =>
        new([.. values.Select(v => double.IsNaN(v) ? null : JsonValue.Create(v))]);

    private static double[] ReadDoubles(JsonNode node, string name, string prefix = "")
    {
        if (Required(node, name, prefix) is not JsonArray array)
            throw new InvalidDataException($"The guard state's '{prefix}{name}' must be an array of numbers.");
        var values = new double[array.Count];
        for (int i = 0; i < values.Length; i++)
        {
            if (array[i] is null)
                values[i] = double.NaN;
            else if (!(array[i] is JsonValue v && v.TryGetValue(out values[i])))
                throw new InvalidDataException($"The guard state's '{prefix}{name}[{i}]' is not a number ({array[i]!.ToJsonString()}).");
        }

        return values;
    }
}
