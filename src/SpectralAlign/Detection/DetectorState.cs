using System.Text.Json.Serialization;

namespace SpectralAlign.Detection;

/// <summary>The detector's checkpoint state (see <see cref="CollapseDetector.SaveState"/>).</summary>
internal sealed class DetectorState
{
    [JsonRequired]
    public Dictionary<string, LayerTracksState> Layers { get; set; } = [];

    [JsonRequired]
    public List<TrackState> Groups { get; set; } = [];

    [JsonRequired]
    public List<TrackState> Run { get; set; } = [];

    /// <summary>Throws unless every entry of the collections is present (the serializer checks the properties' own
    /// nullability, not that of collection elements) and every episode's counters are in range.</summary>
    /// <exception cref="InvalidDataException">An entry is null or a counter negative; the message names it.</exception>
    public void ThrowIfInvalid()
    {
        foreach (var (name, layer) in Layers)
        {
            if (layer is null)
                throw Missing($"layers.{name}", "a layer object");
            layer.NonFinite.ThrowIfInvalid($"layers.{name}.nonFinite");
            CheckTracks(layer.Rules, $"layers.{name}.rules");
        }

        CheckTracks(Groups, "groups");
        CheckTracks(Run, "run");
        for (int i = 0; i < Groups.Count; i++)
        {
            if (Groups[i].Members?.Any(m => m is null) == true)
                throw Missing($"groups[{i}].members", "layer names only");
        }
    }

    private static void CheckTracks(List<TrackState> tracks, string path)
    {
        for (int i = 0; i < tracks.Count; i++)
        {
            if (tracks[i] is null)
                throw Missing($"{path}[{i}]", "a rule's state");
            tracks[i].Episode.ThrowIfInvalid($"{path}[{i}].episode");
        }
    }

    private static InvalidDataException Missing(string path, string expected) =>
        new($"The detector state's '{path}' is null; expected {expected}.");
}

/// <summary>One layer's episodes and layer-rule tracks.</summary>
internal sealed class LayerTracksState
{
    [JsonRequired]
    public EpisodeState NonFinite { get; set; } = new();

    [JsonRequired]
    public List<TrackState> Rules { get; set; } = [];
}

/// <summary>One rule's state for one subject: its episode and its scorer's numbers (<c>null</c> when the scorer
/// could not save them).</summary>
internal sealed class TrackState
{
    [JsonRequired]
    public string Reason { get; set; } = "";

    /// <summary>The group's name (cross-layer tracks only).</summary>
    public string? Subject { get; set; }

    /// <summary>The group's member layers (cross-layer tracks only).</summary>
    public List<string>? Members { get; set; }

    [JsonRequired]
    public EpisodeState Episode { get; set; } = new();

    public double[]? Scorer { get; set; }
}

/// <summary>An <see cref="AlertEpisode"/>'s counters.</summary>
internal sealed class EpisodeState
{
    [JsonRequired]
    public int AnomalousRun { get; set; }

    [JsonRequired]
    public int NormalRun { get; set; }

    [JsonRequired]
    public bool Alerted { get; set; }

    [JsonRequired]
    public long EpisodeStart { get; set; }

    /// <summary>Throws unless the run counters are in range (an <see cref="AlertEpisode"/> never makes them
    /// negative).</summary>
    /// <param name="path">Where this episode is in the detector state, for the message.</param>
    /// <exception cref="InvalidDataException">A counter is negative; the message names it.</exception>
    public void ThrowIfInvalid(string path)
    {
        if (AnomalousRun < 0)
            throw Negative(path + ".anomalousRun", AnomalousRun);
        if (NormalRun < 0)
            throw Negative(path + ".normalRun", NormalRun);
    }

    private static InvalidDataException Negative(string path, int value) =>
        new(string.Create(System.Globalization.CultureInfo.InvariantCulture, $"The detector state's '{path}' must be >= 0 (was {value})."));
}

/// <summary>Source-generated JSON metadata of the detector's state (no reflection; NaN and infinities as named
/// literals).</summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    RespectNullableAnnotations = true)]
[JsonSerializable(typeof(DetectorState))]
internal sealed partial class DetectorStateJsonContext : JsonSerializerContext;
