using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace SpectralAlign.State;

/// <summary>
/// The guard's checkpoint, as written by <see cref="TrainingGuard.SaveState(Stream)"/> (format
/// <see cref="FormatName"/>, version 1): the step counter, the interventions made, the open episode and cooldown, the
/// learning-rate back-off and its schedule, the loss-spike window, and the monitor's state embedded as an opaque JSON
/// value. Members are nullable so that reading can name a missing field; NaN travels as JSON null.
/// </summary>
internal sealed class GuardStateDocument
{
    public const string FormatName = "SpectralAlign.GuardState";
    public const int CurrentVersion = 1;

    public string? Format { get; set; }
    public int? Version { get; set; }
    public long? Step { get; set; }
    public int? Interventions { get; set; }
    public bool? ExhaustedRaised { get; set; }

    /// <summary>The open episode's first step; null (written, as version 1 always did) when none is open.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.Never)]
    public long? EpisodeStart { get; set; }

    public long? LastTrigger { get; set; }
    public long? LastIntervention { get; set; }
    public ScheduleStateDocument? Schedule { get; set; }
    public ScalerStateDocument? Scaler { get; set; }
    public List<double?>? Losses { get; set; }
    public JsonNode? Monitor { get; set; }
}

/// <summary>The learning-rate recovery schedule of a <see cref="GuardStateDocument"/>.</summary>
internal sealed class ScheduleStateDocument
{
    public long? Start { get; set; }
    public double? Floor { get; set; }
    public int? Hold { get; set; }
    public int? Ramp { get; set; }
}

/// <summary>The learning-rate scaler's bookkeeping in a <see cref="GuardStateDocument"/>: the factor in force and,
/// per parameter group, the rate before scaling and the rate last written (NaN as null).</summary>
internal sealed class ScalerStateDocument
{
    public double? Scale { get; set; }
    public List<double?>? Unscaled { get; set; }
    public List<double?>? Written { get; set; }
}

/// <summary>Source-generated JSON metadata of the guard's state (no reflection, trimming-safe).</summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    NumberHandling = JsonNumberHandling.Strict)]
[JsonSerializable(typeof(GuardStateDocument))]
internal sealed partial class GuardStateJsonContext : JsonSerializerContext;
