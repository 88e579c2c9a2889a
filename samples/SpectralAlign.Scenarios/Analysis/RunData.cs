using System.Text.Json;
using SpectralAlign.Scenarios.Recording;

namespace SpectralAlign.Scenarios.Analysis;

/// <summary>A run record read back from its JSON Lines file.</summary>
public sealed class RunData
{
    /// <summary>The header.</summary>
    public required RunHeader Header { get; init; }

    /// <summary>Steps, in order.</summary>
    public required IReadOnlyList<StepRecord> Steps { get; init; }

    /// <summary>Measurements per layer, in step order.</summary>
    public required IReadOnlyDictionary<string, IReadOnlyList<LayerMeasurement>> Measurements { get; init; }

    /// <summary>Alerts raised online, in order.</summary>
    public required IReadOnlyList<AlertRecord> Alerts { get; init; }

    /// <summary>The end line, or null when the run did not finish.</summary>
    public RunSummary? Summary { get; init; }

    /// <summary>The measurements of every step that is a multiple of <paramref name="interval"/>, one per layer: the
    /// last copy when the record repeats a step (a log appended to after resuming from an older checkpoint), as the
    /// detector takes one measurement per layer and step.</summary>
    /// <param name="interval">The replay interval (a multiple of the recorded one).</param>
    public ILookup<long, LayerMeasurement> MeasurementsByStep(int interval) =>
        Measurements.Values
            .SelectMany(series => series.Where(m => m.Step % interval == 0).GroupBy(m => m.Step).Select(copies => copies.Last()))
            .ToLookup(m => m.Step);

    /// <summary>Layer names in watch order.</summary>
    public IEnumerable<string> Layers => Header.Layers.Select(l => l.Name);

    /// <summary>The ground-truth explosion step recomputed from the recorded losses.</summary>
    public long? ExplosionStep => GroundTruth.FindExplosionStep(Steps.Select(s => s.Loss));

    /// <summary>Reads a record.</summary>
    /// <param name="path">The .jsonl file.</param>
    /// <returns>The run.</returns>
    public static RunData Load(string path)
    {
        RunHeader? header = null;
        RunSummary? summary = null;
        var steps = new List<StepRecord>();
        var alerts = new List<AlertRecord>();
        var measurements = new Dictionary<string, List<LayerMeasurement>>(StringComparer.Ordinal);
        foreach (var line in File.ReadLines(path))
        {
            if (line.Length == 0)
                continue;
            using var doc = JsonDocument.Parse(line);
            switch (doc.RootElement.GetProperty("type").GetString())
            {
                case "header":
                    header = doc.RootElement.Deserialize<RunHeader>(RunRecords.Options);
                    break;
                case "step":
                    steps.Add(doc.RootElement.Deserialize<StepRecord>(RunRecords.Options)!);
                    break;
                case "measurement":
                    var m = doc.RootElement.Deserialize<LayerMeasurement>(RunRecords.Options)!;
                    if (!measurements.TryGetValue(m.Layer, out var list))
                        measurements[m.Layer] = list = [];
                    list.Add(m);
                    break;
                case "alert":
                    alerts.Add(doc.RootElement.Deserialize<AlertRecord>(RunRecords.Options)!);
                    break;
                case "end":
                    summary = doc.RootElement.Deserialize<RunSummary>(RunRecords.Options);
                    break;
            }
        }

        return new RunData
        {
            Header = header ?? throw new InvalidDataException($"{path} has no header line."),
            Steps = steps,
            Measurements = measurements.ToDictionary(kv => kv.Key, kv => (IReadOnlyList<LayerMeasurement>)kv.Value, StringComparer.Ordinal),
            Alerts = alerts,
            Summary = summary,
        };
    }
}
