using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Json.Nodes;
using SpectralAlign.Hooks;
using SpectralAlign.Spectral;
using static TorchSharp.torch;

namespace SpectralAlign.State;

/// <summary>
/// Turns the monitor's state into a <see cref="MonitorStateDocument"/> and back. Reading validates the whole
/// document before anything is restored, and throws <see cref="InvalidDataException"/> naming the missing or bad
/// field; restoring then cannot fail half-way for a malformed document. The detector's part is an opaque JSON value
/// that only the detector reads.
/// </summary>
internal static class MonitorStateSerializer
{
    private const string Subject = "monitor";

    /// <summary>Captures the state (under the monitor's lock: reads the layers' warm bases).</summary>
    public static MonitorStateDocument Capture(long step, int seed, IEnumerable<WatchedLayer> layers, JsonNode detector) => new()
    {
        Format = MonitorStateDocument.FormatName,
        Version = MonitorStateDocument.CurrentVersion,
        Step = step,
        Seed = seed,
        Layers = layers.Select(CaptureLayer).ToList()!,
        Detector = detector,
    };

    public static void Write(Stream stream, MonitorStateDocument document) =>
        JsonSerializer.Serialize(stream, document, MonitorStateJsonContext.Default.MonitorStateDocument);

    /// <summary>Reads and validates a document.</summary>
    /// <exception cref="InvalidDataException">Not a monitor state this version reads, or a field is missing or
    /// bad; the message names it.</exception>
    public static MonitorStateDocument Read(Stream stream)
    {
        var document = StateDocuments.Deserialize(stream, MonitorStateJsonContext.Default.MonitorStateDocument, Subject);
        StateDocuments.CheckFormat(document.Format, document.Version, MonitorStateDocument.FormatName, MonitorStateDocument.CurrentVersion, Subject);
        if (Required(document.Step, "step") < 0)
            throw new InvalidDataException($"The monitor state's 'step' must be >= 0 (was {document.Step}).");
        var layers = Required(document.Layers, "layers");
        if (document.Detector is not JsonObject)
            throw new InvalidDataException(document.Detector is null ? "The monitor state has no 'detector'." : "The monitor state's 'detector' must be a JSON object.");
        var names = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < layers.Count; i++)
            ValidateLayer(layers[i], $"layers[{i}]", names);
        return document;
    }

    /// <summary>Restores each watched layer's state from a validated document (under the monitor's lock).</summary>
    /// <returns>What could not be restored.</returns>
    public static List<string> Restore(MonitorStateDocument document, IReadOnlyList<WatchedLayer> layers)
    {
        var problems = new List<string>();
        var saved = document.Layers!.ToDictionary(l => l!.Name!, l => l!, StringComparer.Ordinal);
        foreach (var layer in layers)
        {
            if (!saved.Remove(layer.Name, out var entry))
            {
                problems.Add($"{layer.Name}: not in the saved state; it starts cold");
                continue;
            }

            if (entry.Groups != layer.View.Groups || entry.InFeatures != layer.View.InFeatures)
            {
                problems.Add($"{layer.Name}: its shape changed since the state was saved; it starts cold");
                continue;
            }

            float[]? basis = entry.Basis is null ? null : Decode(entry.Basis);
            if (basis is not null && basis.Length != layer.View.Groups * layer.View.InFeatures * entry.Subspace!.Value)
            {
                problems.Add($"{layer.Name}: the saved basis has the wrong size; it starts cold");
                continue;
            }

            layer.Spectral.IterationHint = entry.IterationHint!.Value;
            layer.Spectral.LastFrobenius = entry.LastFrobenius ?? double.NaN;
            if (basis is not null)
                RestoreBasis(layer, basis, entry.Subspace!.Value);
        }

        problems.AddRange(saved.Keys.Select(name => $"{name}: in the saved state but not watched; ignored"));
        return problems;
    }

    private static LayerStateDocument CaptureLayer(WatchedLayer layer)
    {
        var entry = new LayerStateDocument
        {
            Name = layer.Name,
            Groups = layer.View.Groups,
            InFeatures = layer.View.InFeatures,
            IterationHint = layer.Spectral.IterationHint,
            LastFrobenius = double.IsFinite(layer.Spectral.LastFrobenius) ? layer.Spectral.LastFrobenius : null,
        };
        if (layer.Spectral.Basis is { } basis)
        {
            using var scope = NewDisposeScope();
            entry.Subspace = (int)basis.shape[2];
            entry.Basis = Convert.ToBase64String(MemoryMarshal.AsBytes(DeviceTransfer.Values<float>(basis.detach().to(ScalarType.Float32)).AsSpan()));
        }

        return entry;
    }

    private static void RestoreBasis(WatchedLayer layer, float[] values, int subspace)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var weight = layer.View.CurrentWeight();
        var device = weight?.device ?? CPU;
        layer.Spectral.Replace(tensor(values, [layer.View.Groups, layer.View.InFeatures, subspace]).to(device).DetachFromDisposeScope());
    }

    private static void ValidateLayer(LayerStateDocument? layer, string path, HashSet<string> names)
    {
        if (layer is null)
            throw new InvalidDataException($"The monitor state's '{path}' is null; expected a layer object.");
        string name = Required(layer.Name, path + ".name");
        if (!names.Add(name))
            throw new InvalidDataException($"The monitor state holds layer '{name}' twice ('{path}.name').");
        if (Required(layer.Groups, path + ".groups") < 1)
            throw new InvalidDataException($"The monitor state's '{path}.groups' must be >= 1 (was {layer.Groups}).");
        if (Required(layer.InFeatures, path + ".in") < 1)
            throw new InvalidDataException($"The monitor state's '{path}.in' must be >= 1 (was {layer.InFeatures}).");
        if (Required(layer.IterationHint, path + ".iterationHint") < 0)
            throw new InvalidDataException($"The monitor state's '{path}.iterationHint' must be >= 0 (was {layer.IterationHint}).");
        if (layer.Basis is null)
            return;
        if (Required(layer.Subspace, path + ".subspace") < 1)
            throw new InvalidDataException($"The monitor state's '{path}.subspace' must be >= 1 (was {layer.Subspace}).");
        try
        {
            if (Convert.FromBase64String(layer.Basis).Length % sizeof(float) != 0)
                throw new InvalidDataException($"The monitor state's '{path}.basis' does not hold whole float32 values.");
        }
        catch (FormatException ex)
        {
            throw new InvalidDataException($"The monitor state's '{path}.basis' is not base64: {ex.Message}", ex);
        }
    }

    private static float[] Decode(string base64) => MemoryMarshal.Cast<byte, float>(Convert.FromBase64String(base64)).ToArray();

    private static T Required<T>(T? value, string field)
        where T : class => StateDocuments.Required(value, Subject, field);

    private static T Required<T>(T? value, string field)
        where T : struct => StateDocuments.Required(value, Subject, field);
}
