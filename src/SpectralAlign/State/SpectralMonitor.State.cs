using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Json.Nodes;
using SpectralAlign.Telemetry;
using static TorchSharp.torch;

namespace SpectralAlign;

/// <content>Saving and restoring the monitor's state with a training checkpoint.</content>
public sealed partial class SpectralMonitor
{
    private const string StateFormat = "SpectralAlign.MonitorState";
    private const int StateVersion = 1;

    /// <summary>
    /// Writes the monitor's state — step counter, every layer's warm-start basis (so v1 keeps its sign), and the
    /// detector's warm-up progress, baselines and alert episodes — as one UTF-8 JSON document. Save it with your
    /// training checkpoint; <see cref="LoadState(Stream)"/> resumes exactly where the run stopped.
    /// </summary>
    /// <param name="stream">A writable stream; left open.</param>
    /// <exception cref="ObjectDisposedException">The monitor has been disposed.</exception>
    public void SaveState(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        JsonObject root;
        lock (_gate)
        {
            ThrowIfDisposed();
            var layers = new JsonArray();
            foreach (var layer in _layers)
            {
                var entry = new JsonObject
                {
                    ["name"] = layer.Name,
                    ["groups"] = layer.View.Groups,
                    ["in"] = layer.View.InFeatures,
                    ["iterationHint"] = layer.Spectral.IterationHint,
                };
                if (double.IsFinite(layer.Spectral.LastFrobenius))
                    entry["lastFrobenius"] = layer.Spectral.LastFrobenius;
                if (layer.Spectral.Basis is { } basis)
                {
                    using var scope = NewDisposeScope();
                    var host = basis.detach().to(ScalarType.Float32).cpu().contiguous();
                    entry["subspace"] = host.shape[2];
                    entry["basis"] = Convert.ToBase64String(MemoryMarshal.AsBytes(host.data<float>().ToArray().AsSpan()));
                }

                layers.Add(entry);
            }

            root = new JsonObject
            {
                ["format"] = StateFormat,
                ["version"] = StateVersion,
                ["step"] = _step,
                ["seed"] = _options.Seed,
                ["layers"] = layers,
                ["detector"] = _detector.SaveState(),
            };
        }

        using var writer = new Utf8JsonWriter(stream);
        root.WriteTo(writer);
    }

    /// <summary>Writes the monitor's state to a file (see <see cref="SaveState(Stream)"/>).</summary>
    /// <param name="path">The file; overwritten.</param>
    public void SaveState(string path)
    {
        using var file = File.Create(path);
        SaveState(file);
    }

    /// <summary>
    /// Restores a state written by <see cref="SaveState(Stream)"/>. Call it after watching the same layers (matched by
    /// name) and before the first <see cref="Step()"/> of the resumed run. A layer whose shape changed, or that the
    /// state does not know, starts cold; a rule whose detector cannot restore its state starts afresh; each such case
    /// is returned and logged.
    /// </summary>
    /// <param name="stream">A readable stream holding the state.</param>
    /// <returns>What could not be restored; empty when everything was.</returns>
    /// <exception cref="InvalidDataException">The stream does not hold a monitor state this version can read.</exception>
    /// <exception cref="ObjectDisposedException">The monitor has been disposed.</exception>
    public IReadOnlyList<string> LoadState(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        JsonObject root;
        try
        {
            root = JsonNode.Parse(stream)?.AsObject() ?? throw new InvalidDataException("The monitor state is empty.");
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException($"The monitor state is not valid JSON: {ex.Message}", ex);
        }

        if (root["format"]?.GetValue<string>() != StateFormat)
            throw new InvalidDataException($"Not a SpectralAlign monitor state (expected format '{StateFormat}').");
        int version = root["version"]?.GetValue<int>() ?? 0;
        if (version != StateVersion)
            throw new InvalidDataException($"Monitor state version {version} cannot be read by this version of SpectralAlign (reads version {StateVersion}).");

        var problems = new List<string>();
        lock (_gate)
        {
            ThrowIfDisposed();
            var saved = root["layers"]!.AsArray().Select(n => n!.AsObject()).ToDictionary(n => n["name"]!.GetValue<string>(), StringComparer.Ordinal);
            foreach (var layer in _layers)
            {
                if (!saved.Remove(layer.Name, out var entry))
                {
                    problems.Add($"{layer.Name}: not in the saved state; it starts cold");
                    continue;
                }

                if (entry["groups"]!.GetValue<int>() != layer.View.Groups || entry["in"]!.GetValue<int>() != layer.View.InFeatures)
                {
                    problems.Add($"{layer.Name}: its shape changed since the state was saved; it starts cold");
                    continue;
                }

                layer.Spectral.IterationHint = entry["iterationHint"]!.GetValue<int>();
                layer.Spectral.LastFrobenius = entry["lastFrobenius"]?.GetValue<double>() ?? double.NaN;
                if (entry["basis"] is { } encoded && layer.View.CurrentWeight() is { } weight)
                {
                    int k = entry["subspace"]!.GetValue<int>();
                    var values = MemoryMarshal.Cast<byte, float>(Convert.FromBase64String(encoded.GetValue<string>())).ToArray();
                    if (values.Length != layer.View.Groups * layer.View.InFeatures * k)
                    {
                        problems.Add($"{layer.Name}: the saved basis has the wrong size; it starts cold");
                        continue;
                    }

                    using var noGrad = no_grad();
                    using var scope = NewDisposeScope();
                    layer.Spectral.Replace(tensor(values, [layer.View.Groups, layer.View.InFeatures, k]).to(weight.device).DetachFromDisposeScope());
                }
            }

            problems.AddRange(saved.Keys.Select(name => $"{name}: in the saved state but not watched; ignored"));
            problems.AddRange(_detector.LoadState(root["detector"]!.AsObject()));
            Interlocked.Exchange(ref _step, root["step"]!.GetValue<long>());
        }

        foreach (var problem in problems)
            Log.StateNotRestored(_logger, problem);
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
