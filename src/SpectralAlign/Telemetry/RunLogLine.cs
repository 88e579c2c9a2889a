using System.Text.Json.Serialization;

namespace SpectralAlign.Telemetry;

/// <summary>
/// One line of a run log (JSON Lines, UTF-8, one object per line, fields in camelCase). The <c>type</c> field says
/// which kind of record it is; fields that do not belong to a kind are omitted. Format version 1:
/// <list type="bullet">
/// <item><c>header</c>: <c>format</c> ("spectralalign-runlog"), <c>version</c>, <c>created</c> (UTC, ISO 8601),
/// <c>tags</c>.</item>
/// <item><c>measurement</c>: one per layer per measured step: <c>step</c>, <c>layer</c>, every field of
/// <see cref="SpectralAlignmentStats"/> (<c>histogram</c> is the bin counts over [-1, 1]) and of
/// <see cref="LayerMeasurement"/> (<c>conditions</c> as flag names; <c>maxInputRowNorm</c>, <c>updateRatio</c> and
/// <c>upstreamAlignment</c> are absent from older logs and read as 0, NaN and NaN), and <c>alerts</c>: the alerts this measurement
/// raised (<c>reason</c>, <c>detail</c>, <c>episodeStart</c>).</item>
/// <item><c>alert</c>: an alert that came without a measurement of its layer on its step — a run-level alert (loss,
/// gradient norm; <c>layer</c> = <see cref="CollapseAlert.RunLayer"/>) or a layer alert on a step the layer was not
/// measured: <c>step</c>, <c>layer</c>, <c>reason</c>, <c>detail</c>, <c>episodeStart</c>. (Readers of version 1
/// that predate it skip it as an unknown type.)</item>
/// <item><c>scalar</c>: <c>step</c>, <c>name</c>, <c>value</c>.</item>
/// <item><c>marker</c>: <c>step</c>, <c>name</c>, <c>detail</c>.</item>
/// </list>
/// Non-finite numbers are written as the strings "NaN", "Infinity", "-Infinity".
/// </summary>
internal sealed class RunLogLine
{
    public const string HeaderType = "header";
    public const string MeasurementType = "measurement";
    public const string AlertType = "alert";
    public const string ScalarType = "scalar";
    public const string MarkerType = "marker";
    public const string FormatName = "spectralalign-runlog";
    public const int FormatVersion = 1;

    public string Type { get; set; } = "";

    // header
    public string? Format { get; set; }
    public int? Version { get; set; }
    public DateTimeOffset? Created { get; set; }
    public Dictionary<string, string>? Tags { get; set; }

    // every record but the header
    public long? Step { get; set; }

    // measurement
    public string? Layer { get; set; }
    public int? Count { get; set; }
    public int? ZeroRows { get; set; }
    public int? NonFiniteRows { get; set; }
    public double? Mean { get; set; }
    public double? StdDev { get; set; }
    public double? PositiveFraction { get; set; }
    public double? SignDiversity { get; set; }
    public double? Min { get; set; }
    public double? P05 { get; set; }
    public double? P25 { get; set; }
    public double? Median { get; set; }
    public double? P75 { get; set; }
    public double? P95 { get; set; }
    public double? Max { get; set; }
    public int[]? Histogram { get; set; }
    public double? SpectralNorm { get; set; }
    public double? SecondSingularValue { get; set; }
    public double? FrobeniusNorm { get; set; }
    public double? StableRank { get; set; }
    public double? GapRatio { get; set; }
    public double? Residual { get; set; }
    public int? Iterations { get; set; }
    public double? InputMeanAlignment { get; set; }
    public double? MaxAbsInput { get; set; }
    public long? InputRows { get; set; }
    public double? MaxInputRowNorm { get; set; }
    public double? UpdateRatio { get; set; }
    public double? UpstreamAlignment { get; set; }
    public string[]? Conditions { get; set; }
    public List<RunLogAlertLine>? Alerts { get; set; }

    // alert
    public string? Reason { get; set; }
    public long? EpisodeStart { get; set; }

    // scalar and marker
    public string? Name { get; set; }
    public double? Value { get; set; }
    public string? Detail { get; set; }

    public static RunLogLine Header(IDictionary<string, string> tags, DateTimeOffset created) => new()
    {
        Type = HeaderType,
        Format = FormatName,
        Version = FormatVersion,
        Created = created,
        Tags = new Dictionary<string, string>(tags),
    };

    public static RunLogLine FromMeasurement(LayerMeasurement m, IEnumerable<CollapseAlert> alerts)
    {
        var s = m.Stats;
        return new RunLogLine
        {
            Type = MeasurementType,
            Step = m.Step,
            Layer = m.Layer,
            Count = s.Count,
            ZeroRows = s.ZeroRows,
            NonFiniteRows = s.NonFiniteRows,
            Mean = s.Mean,
            StdDev = s.StdDev,
            PositiveFraction = s.PositiveFraction,
            SignDiversity = s.SignDiversity,
            Min = s.Min,
            P05 = s.P05,
            P25 = s.P25,
            Median = s.Median,
            P75 = s.P75,
            P95 = s.P95,
            Max = s.Max,
            Histogram = [.. s.Histogram],
            SpectralNorm = m.SpectralNorm,
            SecondSingularValue = m.SecondSingularValue,
            FrobeniusNorm = m.FrobeniusNorm,
            StableRank = m.StableRank,
            GapRatio = m.GapRatio,
            Residual = m.Residual,
            Iterations = m.Iterations,
            InputMeanAlignment = m.InputMeanAlignment,
            MaxAbsInput = m.MaxAbsInput,
            InputRows = m.InputRows,
            MaxInputRowNorm = m.MaxInputRowNorm,
            UpdateRatio = m.UpdateRatio,
            UpstreamAlignment = m.UpstreamAlignment,
            Conditions = FlagNames(m.Conditions),
            Alerts = alerts.Select(a => new RunLogAlertLine { Reason = a.Reason, Detail = a.Detail, EpisodeStart = a.EpisodeStartStep }).ToList(),
        };
    }

    public static RunLogLine FromAlert(CollapseAlert alert) => new()
    {
        Type = AlertType,
        Step = alert.Step,
        Layer = alert.Layer,
        Reason = alert.Reason,
        Detail = alert.Detail,
        EpisodeStart = alert.EpisodeStartStep,
    };

    public CollapseAlert ToAlert(int lineNumber) => new()
    {
        Layer = Layer ?? throw Missing("layer", lineNumber, AlertType),
        Step = Step ?? throw Missing("step", lineNumber, AlertType),
        Reason = Reason ?? throw Missing("reason", lineNumber, AlertType),
        Detail = Detail ?? "",
        EpisodeStartStep = EpisodeStart ?? Step.Value,
    };

    public LayerMeasurement ToMeasurement(int lineNumber) => new()
    {
        Layer = Layer ?? throw Missing("layer", lineNumber),
        Step = Step ?? throw Missing("step", lineNumber),
        Stats = new SpectralAlignmentStats
        {
            Count = Count ?? 0,
            ZeroRows = ZeroRows ?? 0,
            NonFiniteRows = NonFiniteRows ?? 0,
            Mean = Mean ?? 0,
            StdDev = StdDev ?? 0,
            PositiveFraction = PositiveFraction ?? 0,
            SignDiversity = SignDiversity ?? 0,
            Min = Min ?? 0,
            P05 = P05 ?? 0,
            P25 = P25 ?? 0,
            Median = Median ?? 0,
            P75 = P75 ?? 0,
            P95 = P95 ?? 0,
            Max = Max ?? 0,
            Histogram = Histogram ?? [],
        },
        SpectralNorm = SpectralNorm ?? 0,
        SecondSingularValue = SecondSingularValue ?? 0,
        FrobeniusNorm = FrobeniusNorm ?? 0,
        Residual = Residual ?? 0,
        Iterations = Iterations ?? 0,
        InputMeanAlignment = InputMeanAlignment ?? 0,
        MaxAbsInput = MaxAbsInput ?? 0,
        InputRows = InputRows ?? 0,
        MaxInputRowNorm = MaxInputRowNorm ?? 0,
        UpdateRatio = UpdateRatio ?? double.NaN,
        UpstreamAlignment = UpstreamAlignment ?? double.NaN,
        Conditions = ParseFlags(Conditions, lineNumber),
    };

    private static string[] FlagNames(MeasurementConditions conditions) =>
        Enum.GetValues<MeasurementConditions>().Where(f => f != MeasurementConditions.None && conditions.HasFlag(f)).Select(f => f.ToString()).ToArray();

    private static MeasurementConditions ParseFlags(string[]? names, int lineNumber)
    {
        var result = MeasurementConditions.None;
        foreach (var name in names ?? [])
        {
            if (!Enum.TryParse<MeasurementConditions>(name, ignoreCase: false, out var flag))
                throw new InvalidDataException($"Run log line {lineNumber}: unknown condition '{name}'.");
            result |= flag;
        }

        return result;
    }

    private static InvalidDataException Missing(string field, int lineNumber, string type = MeasurementType) =>
        new($"Run log line {lineNumber}: a{(type == AlertType ? "n" : "")} {type} record without '{field}'.");
}

/// <summary>An alert inside a measurement line of a run log.</summary>
internal sealed class RunLogAlertLine
{
    public string Reason { get; set; } = "";
    public string Detail { get; set; } = "";
    public long EpisodeStart { get; set; }
}

/// <summary>Source-generated JSON metadata for run logs and capture manifests (no reflection, trimming-safe).</summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals)]
[JsonSerializable(typeof(RunLogLine))]
[JsonSerializable(typeof(CaptureManifestLine))]
[JsonSerializable(typeof(CaptureHeader))]
internal sealed partial class TelemetryJsonContext : JsonSerializerContext;
