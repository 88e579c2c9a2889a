using System.Text.Json.Nodes;
using SpectralAlign.State;
using SpectralAlign.Telemetry;

namespace SpectralAlign;

/// <content>Saving and restoring the guard's state, together with its monitor's, for resuming a run.</content>
public sealed partial class TrainingGuard
{
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
        GuardStateSerializer.Write(stream, new GuardState(
            _step, Interventions, _policy.ExhaustedRaised, _policy.EpisodeStart, _policy.LastTrigger, _policy.LastIntervention, _learningRate.Schedule, _learningRate.SaveScaler(), _triggers.SaveLosses(), JsonNode.Parse(monitorState.ToArray())!));
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
        var state = GuardStateSerializer.Read(stream);     // validated whole: a bad field changes nothing
        using var monitorState = new MemoryStream(System.Text.Encoding.UTF8.GetBytes(state.Monitor.ToJsonString()));
        var problems = new List<string>(_monitor.LoadState(monitorState));

        _step = state.Step;
        _policy.Restore(state.Interventions, state.ExhaustedRaised, state.EpisodeStart, state.LastTrigger, state.LastIntervention);
        _learningRate.Restore(state.Schedule, state.Scaler);
        _triggers.RestoreLosses(state.Losses);
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
}
