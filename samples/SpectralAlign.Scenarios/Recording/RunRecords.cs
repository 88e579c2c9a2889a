using System.Text.Json;
using System.Text.Json.Serialization;

namespace SpectralAlign.Scenarios.Recording;

/// <summary>
/// The JSON Lines format of a run record. Every line is one JSON object with a <c>type</c>:
/// <list type="bullet">
/// <item><c>header</c> (first line): <see cref="RunHeader"/>.</item>
/// <item><c>step</c>: <see cref="StepRecord"/>, one per training step, written before that step's measurements.</item>
/// <item><c>measurement</c>: every property of a <see cref="LayerMeasurement"/> (camelCase, including the computed
/// <c>gapRatio</c>, <c>stableRank</c> and <c>stats.absMean</c>), one per watched layer per measured step.</item>
/// <item><c>alert</c>: <see cref="AlertRecord"/>, one per <see cref="SpectralMonitor.CollapseDetected"/> event.</item>
/// <item><c>end</c> (last line, absent if the process died): <see cref="RunSummary"/>.</item>
/// </list>
/// Non-finite numbers are written as the strings <c>"NaN"</c>, <c>"Infinity"</c>, <c>"-Infinity"</c>.
/// </summary>
public static class RunRecords
{
    /// <summary>The serializer options used to write and read records.</summary>
    public static JsonSerializerOptions Options { get; } = new(JsonSerializerDefaults.Web)
    {
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals | JsonNumberHandling.AllowReadingFromString,
        Converters = { new JsonStringEnumConverter() },
        WriteIndented = false,
    };

    /// <summary>The file name of a run's record.</summary>
    /// <param name="scenario">Scenario.</param>
    /// <param name="config">Configuration.</param>
    /// <param name="seed">Seed.</param>
    /// <returns><c>{scenario}.{config}.s{seed}.jsonl</c>.</returns>
    public static string RecordFileName(string scenario, string config, int seed) => $"{scenario}.{config}.s{seed}.jsonl";

    /// <summary>The file name of a run's summary.</summary>
    /// <param name="scenario">Scenario.</param>
    /// <param name="config">Configuration.</param>
    /// <param name="seed">Seed.</param>
    /// <returns><c>{scenario}.{config}.s{seed}.summary.json</c>.</returns>
    public static string SummaryFileName(string scenario, string config, int seed) => $"{scenario}.{config}.s{seed}.summary.json";
}

/// <summary>A watched layer as listed in the header.</summary>
/// <param name="Name">Watch name (module path).</param>
/// <param name="InFeatures">Input width.</param>
/// <param name="OutFeatures">Output width.</param>
public sealed record WatchedLayerInfo(string Name, int InFeatures, int OutFeatures);

/// <summary>First line of a record.</summary>
public sealed record RunHeader
{
    /// <summary>Always <c>header</c>.</summary>
    public string Type { get; init; } = "header";

    /// <summary>Scenario name.</summary>
    public required string Scenario { get; init; }

    /// <summary>Configuration name.</summary>
    public required string Config { get; init; }

    /// <summary>Seed.</summary>
    public int Seed { get; init; }

    /// <summary>torch intra-op threads.</summary>
    public int Threads { get; init; }

    /// <summary>Every setting of the run.</summary>
    public required IReadOnlyDictionary<string, string> Settings { get; init; }

    /// <summary>Monitor options in effect (interval, samples, rules).</summary>
    public required IReadOnlyDictionary<string, string> Monitor { get; init; }

    /// <summary>Ground-truth constants.</summary>
    public required IReadOnlyDictionary<string, double> GroundTruth { get; init; }

    /// <summary>For a run of a fork scenario, the step at which its branch leaves the shared base run (every step
    /// before it is healthy training, identical for all branches of the base); null otherwise.</summary>
    public long? ForkStep { get; init; }

    /// <summary>Watched layers in watch order.</summary>
    public required IReadOnlyList<WatchedLayerInfo> Layers { get; init; }

    /// <summary>Start time.</summary>
    public DateTimeOffset StartedUtc { get; init; }
}

/// <summary>One training step.</summary>
public sealed record StepRecord
{
    /// <summary>Always <c>step</c>.</summary>
    public string Type { get; init; } = "step";

    /// <summary>Zero-based step (the monitor's step number of this forward pass).</summary>
    public long Step { get; init; }

    /// <summary>Training loss of the step's batch (float32 cross-entropy, before the update).</summary>
    public double Loss { get; init; }

    /// <summary>Global L2 norm of all gradients before clipping (NaN when the loss was not finite and no backward
    /// pass ran).</summary>
    public double GradNorm { get; init; }

    /// <summary>Learning rate used for the update.</summary>
    public double Lr { get; init; }

    /// <summary>Loss divided by the running minimum of earlier losses (the ground-truth ratio).</summary>
    public double Ratio { get; init; }

    /// <summary>Seconds since the training loop started.</summary>
    public double Elapsed { get; init; }

    /// <summary>The largest attention logit q·k/√d_head of the step's forward pass (GPT scenarios; absent for models
    /// without attention): the quantity whose growth Wortsman et al. (2023) tie to attention-entropy collapse.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public double? MaxAttentionLogit { get; init; }
}

/// <summary>One <see cref="CollapseAlert"/>.</summary>
public sealed record AlertRecord
{
    /// <summary>Always <c>alert</c>.</summary>
    public string Type { get; init; } = "alert";

    /// <summary>Layer.</summary>
    public required string Layer { get; init; }

    /// <summary>Reason (rule).</summary>
    public required string Reason { get; init; }

    /// <summary>Step of the measurement that completed the episode.</summary>
    public long Step { get; init; }

    /// <summary>First anomalous step of the episode.</summary>
    public long EpisodeStartStep { get; init; }

    /// <summary>|mean SA| of the alerting measurement.</summary>
    public double AbsMean { get; init; }

    /// <summary>Sign diversity of the alerting measurement.</summary>
    public double SignDiversity { get; init; }

    /// <summary>The rule's explanation.</summary>
    public string Detail { get; init; } = "";

    /// <summary>The record of an alert.</summary>
    /// <param name="alert">The alert.</param>
    /// <returns>Its record.</returns>
    public static AlertRecord From(CollapseAlert alert) => new()
    {
        Layer = alert.Layer,
        Reason = alert.Reason,
        Step = alert.Step,
        EpisodeStartStep = alert.EpisodeStartStep,
        AbsMean = alert.Stats.AbsMean,
        SignDiversity = alert.Stats.SignDiversity,
        Detail = alert.Detail,
    };
}

/// <summary>Summary of a run: the <c>end</c> line of the record and the content of the summary file.</summary>
public sealed record RunSummary
{
    /// <summary>Always <c>end</c>.</summary>
    public string Type { get; init; } = "end";

    /// <summary>Scenario.</summary>
    public required string Scenario { get; init; }

    /// <summary>Configuration.</summary>
    public required string Config { get; init; }

    /// <summary>Seed.</summary>
    public int Seed { get; init; }

    /// <summary>Ground-truth explosion step (<see cref="GroundTruth"/>), or null.</summary>
    public long? ExplosionStep { get; init; }

    /// <summary>The fork step of a fork scenario's run (see <see cref="RunHeader.ForkStep"/>), else null.</summary>
    public long? ForkStep { get; init; }

    /// <summary>Steps actually run.</summary>
    public long StepsRun { get; init; }

    /// <summary>Steps the configuration asks for.</summary>
    public long StepsPlanned { get; init; }

    /// <summary>Why the loop stopped: <c>completed</c> (the planned steps ran; with a budget run, whatever the loss
    /// did), <c>exploded</c> (explosion + post-explosion steps) or <c>non-finite</c>.</summary>
    public required string StopReason { get; init; }

    /// <summary>Wall time of the whole run (setup, training, recording), seconds.</summary>
    public double WallSeconds { get; init; }

    /// <summary>Wall time of the training loop, seconds.</summary>
    public double TrainSeconds { get; init; }

    /// <summary>Processor time of the process during the run (all threads), seconds: unlike the wall times, it does
    /// not grow when other work shares the machine.</summary>
    public double CpuSeconds { get; init; }

    /// <summary>torch intra-op threads.</summary>
    public int Threads { get; init; }

    /// <summary>Monitor interval.</summary>
    public int Interval { get; init; }

    /// <summary>Smallest finite loss.</summary>
    public double MinLoss { get; init; }

    /// <summary>Loss of the last step.</summary>
    public double FinalLoss { get; init; }

    /// <summary>Largest loss / running-minimum ratio after the settling period and before the explosion (how close
    /// the run came to the ground-truth threshold).</summary>
    public double MaxRatioBeforeExplosion { get; init; }

    /// <summary>Every alert of the run.</summary>
    public IReadOnlyList<AlertRecord> Alerts { get; init; } = [];
}
