using System.Collections.ObjectModel;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace SpectralAlign.Detection;

/// <summary>
/// Per-layer thresholds of scored rules, fitted on healthy reference runs by <see cref="DetectionCalibrator"/>; set
/// it as <see cref="DetectionOptions.Calibration"/> to use it. Immutable; saved and loaded as a small JSON document.
/// A rule or layer the calibration does not cover keeps its default threshold.
/// </summary>
public sealed class DetectionCalibration
{
    private const string FormatName = "SpectralAlign.DetectionCalibration";
    private const int FormatVersion = 1;
    private readonly Dictionary<string, ReadOnlyDictionary<string, double>> _thresholds;

    /// <summary>Creates a calibration.</summary>
    /// <param name="thresholds">reason → layer (or <see cref="CollapseAlert.RunLayer"/>) → threshold.</param>
    /// <param name="falseAlarmBudget">The fraction of healthy reference runs allowed to alarm that the thresholds
    /// were fitted for.</param>
    /// <param name="margin">The relative margin added above the fitted quantile.</param>
    /// <param name="referenceRuns">How many healthy runs the fit used.</param>
    /// <param name="description">Free text: what the reference runs were.</param>
    /// <exception cref="ArgumentNullException"><paramref name="thresholds"/> is null.</exception>
    /// <exception cref="ArgumentException">A rule's thresholds are null.</exception>
    public DetectionCalibration(IReadOnlyDictionary<string, IReadOnlyDictionary<string, double>> thresholds, double falseAlarmBudget, double margin, int referenceRuns, string description = "")
    {
        ArgumentNullException.ThrowIfNull(thresholds);
        if (thresholds.FirstOrDefault(r => r.Value is null) is { Key: { } missing, Value: null })
            throw new ArgumentException($"The thresholds of rule '{missing}' are null; give an empty dictionary for none.", nameof(thresholds));
        _thresholds = thresholds.ToDictionary(r => r.Key, r => r.Value.ToDictionary(l => l.Key, l => l.Value, StringComparer.Ordinal).AsReadOnly(), StringComparer.Ordinal);
        FalseAlarmBudget = falseAlarmBudget;
        Margin = margin;
        ReferenceRuns = referenceRuns;
        Description = description ?? "";
    }

    /// <summary>The fraction of healthy reference runs the thresholds allow to alarm.</summary>
    public double FalseAlarmBudget { get; }

    /// <summary>The relative margin above the fitted quantile.</summary>
    public double Margin { get; }

    /// <summary>How many healthy reference runs were used.</summary>
    public int ReferenceRuns { get; }

    /// <summary>What the reference runs were.</summary>
    public string Description { get; }

    /// <summary>The rules (by reason) the calibration covers.</summary>
    public IEnumerable<string> Reasons => _thresholds.Keys;

    /// <summary>The calibrated thresholds of one rule, by layer.</summary>
    /// <param name="reason">The rule's reason.</param>
    /// <returns>A read-only view of the thresholds (empty when the rule is not covered).</returns>
    public IReadOnlyDictionary<string, double> ThresholdsFor(string reason) =>
        _thresholds.TryGetValue(reason, out var layers) ? layers : ReadOnlyDictionary<string, double>.Empty;

    /// <summary>The calibrated threshold of one rule for one layer.</summary>
    /// <param name="reason">The rule's reason.</param>
    /// <param name="layer">The layer (or <see cref="CollapseAlert.RunLayer"/>).</param>
    /// <returns>The threshold, or <c>null</c> when not calibrated.</returns>
    public double? ThresholdFor(string reason, string layer) =>
        _thresholds.TryGetValue(reason, out var layers) && layers.TryGetValue(layer, out var t) ? t : null;

    /// <summary>Writes the calibration as JSON.</summary>
    /// <param name="stream">A writable stream; left open.</param>
    public void Save(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        var thresholds = new JsonObject();
        foreach (var (reason, layers) in _thresholds.OrderBy(r => r.Key, StringComparer.Ordinal))
        {
            var byLayer = new JsonObject();
            foreach (var (layer, value) in layers.OrderBy(l => l.Key, StringComparer.Ordinal))
                byLayer[layer] = double.IsFinite(value) ? value : null;
            thresholds[reason] = byLayer;
        }

        var root = new JsonObject
        {
            ["format"] = FormatName,
            ["version"] = FormatVersion,
            ["falseAlarmBudget"] = FalseAlarmBudget,
            ["margin"] = Margin,
            ["referenceRuns"] = ReferenceRuns,
            ["description"] = Description,
            ["thresholds"] = thresholds,
        };
        using var writer = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true });
        root.WriteTo(writer);
    }

    /// <summary>Writes the calibration to a file.</summary>
    /// <param name="path">The file; overwritten.</param>
    public void Save(string path)
    {
        using var file = File.Create(path);
        Save(file);
    }

    /// <summary>Reads a calibration written by <see cref="Save(Stream)"/>.</summary>
    /// <param name="stream">A readable stream.</param>
    /// <returns>The calibration.</returns>
    /// <exception cref="InvalidDataException">The stream does not hold a calibration; the message names the missing
    /// or bad field.</exception>
    public static DetectionCalibration Load(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        CalibrationDocument document;
        try
        {
            document = JsonSerializer.Deserialize(stream, CalibrationJsonContext.Default.CalibrationDocument)
                ?? throw new InvalidDataException("The calibration is empty.");
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException($"The calibration is not valid: {ex.Message}", ex);
        }

        if (document.Format != FormatName || document.Version != FormatVersion)
            throw new InvalidDataException($"Not a SpectralAlign detection calibration (expected format '{FormatName}' version {FormatVersion}, found '{document.Format}' version {document.Version}).");
        if (document.Thresholds.FirstOrDefault(r => r.Value is null) is { Key: { } rule, Value: null })
            throw new InvalidDataException($"The calibration's 'thresholds.{rule}' is null; expected an object of per-layer thresholds.");
        var thresholds = document.Thresholds.ToDictionary(
            r => r.Key,
            r => (IReadOnlyDictionary<string, double>)r.Value.ToDictionary(l => l.Key, l => l.Value ?? double.PositiveInfinity, StringComparer.Ordinal),
            StringComparer.Ordinal);
        return new DetectionCalibration(thresholds, document.FalseAlarmBudget, document.Margin, document.ReferenceRuns, document.Description ?? "");
    }

    /// <summary>Reads a calibration from a file.</summary>
    /// <param name="path">The file.</param>
    /// <returns>The calibration.</returns>
    public static DetectionCalibration Load(string path)
    {
        using var file = File.OpenRead(path);
        return Load(file);
    }

    /// <inheritdoc />
    public override string ToString() => string.Create(
        CultureInfo.InvariantCulture,
        $"calibration of {string.Join(", ", _thresholds.Keys)} on {ReferenceRuns} runs (budget {FalseAlarmBudget:P0}, margin {Margin:P0})");
}

/// <summary>The JSON document of a <see cref="DetectionCalibration"/> (thresholds saved as <c>null</c> are +∞).</summary>
internal sealed class CalibrationDocument
{
    [JsonRequired]
    public string Format { get; set; } = "";

    [JsonRequired]
    public int Version { get; set; }

    [JsonRequired]
    public double FalseAlarmBudget { get; set; }

    [JsonRequired]
    public double Margin { get; set; }

    [JsonRequired]
    public int ReferenceRuns { get; set; }

    public string? Description { get; set; }

    [JsonRequired]
    public Dictionary<string, Dictionary<string, double?>> Thresholds { get; set; } = [];
}

/// <summary>Source-generated JSON metadata of <see cref="CalibrationDocument"/>.</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, RespectNullableAnnotations = true)]
[JsonSerializable(typeof(CalibrationDocument))]
internal sealed partial class CalibrationJsonContext : JsonSerializerContext;
