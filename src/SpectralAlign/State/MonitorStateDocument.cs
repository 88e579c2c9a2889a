using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace SpectralAlign.State;

/// <summary>
/// The monitor's checkpoint, as written by <see cref="SpectralMonitor.SaveState(Stream)"/> (format
/// <see cref="FormatName"/>, version 1): the step counter, the seed, each layer's warm-start state and the detector's
/// state, embedded as an opaque JSON value. Members are nullable so that reading can name a missing field.
/// </summary>
internal sealed class MonitorStateDocument
{
    public const string FormatName = "SpectralAlign.MonitorState";
    public const int CurrentVersion = 1;

    public string? Format { get; set; }
    public int? Version { get; set; }
    public long? Step { get; set; }
    public int? Seed { get; set; }
    public List<LayerStateDocument?>? Layers { get; set; }
    public JsonNode? Detector { get; set; }
}

/// <summary>One layer of a <see cref="MonitorStateDocument"/>: its shape (to detect a changed layer), its iteration
/// hint, its last Frobenius norm and its warm basis (G × n × k float32, little-endian, base64).</summary>
internal sealed class LayerStateDocument
{
    public string? Name { get; set; }
    public int? Groups { get; set; }
    [JsonPropertyName("in")]
    public int? InFeatures { get; set; }
    public int? IterationHint { get; set; }
    public double? LastFrobenius { get; set; }
    public int? Subspace { get; set; }
    public string? Basis { get; set; }
}

/// <summary>Source-generated JSON metadata of the monitor's state (no reflection, trimming-safe).</summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    NumberHandling = JsonNumberHandling.Strict)]
[JsonSerializable(typeof(MonitorStateDocument))]
internal sealed partial class MonitorStateJsonContext : JsonSerializerContext;
