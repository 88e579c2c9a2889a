using System.Text.Json;
using Microsoft.Extensions.Logging;
using SpectralAlign.Detection;
using SpectralAlign.Monitoring;
using SpectralAlign.Spectral;
using static TorchSharp.torch;

namespace SpectralAlign.Telemetry;

/// <summary>
/// Computes, from a capture written by <see cref="OfflineCaptureSink"/>, the same measurements and alerts the monitor
/// computes online: it measures the saved rows and weights, step by step, with the monitor's measurement engine and
/// the capturing monitor's measurement settings (same seed, same warm-started singular vectors) and the detection
/// settings it is given, on the CPU.
/// Each step's layers are linked as the capturing monitor linked them (<see cref="LayerMeasurement.UpstreamAlignment"/>)
/// and the detector judges each step as a whole (<see cref="CollapseDetector.ObserveStep"/>), as during training.
/// </summary>
public static class OfflineAnalyzer
{
    /// <summary>Analyses a capture directory.</summary>
    /// <param name="directory">The capture directory (<see cref="OfflineCaptureOptions.Directory"/>).</param>
    /// <param name="options">Measurement and detection settings; <c>null</c> for the defaults with the capturing
    /// monitor's measurement settings from <c>capture.json</c>. In either case the interval is set to the spacing of
    /// the saved steps (their greatest common divisor), <see cref="SpectralMonitorOptions.MaxSamplesPerLayer"/> is raised to the largest saved row
    /// count (every saved row is used) and hook-silence warnings are turned off.</param>
    /// <param name="sinks">Receive every analysed step, as during training (e.g. a <see cref="RunLogWriter"/> to
    /// plot the analysis); <c>null</c> for none. A sink that throws is logged (event id 12) and skipped; the analysis
    /// goes on.</param>
    /// <param name="logger">Receives each measurement (trace), alert (warning) and failure (error), as the monitor logs
    /// them; <c>null</c> for none. A logger that throws is ignored.</param>
    /// <returns>The measurements and alerts.</returns>
    /// <exception cref="DirectoryNotFoundException">The directory does not exist.</exception>
    /// <exception cref="InvalidDataException">The capture is not in the expected format (the message says
    /// where).</exception>
    /// <exception cref="ArgumentException">The options are invalid.</exception>
    public static OfflineAnalysis Analyze(string directory, SpectralMonitorOptions? options = null, IEnumerable<ISpectralSink>? sinks = null, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(directory);
        if (!Directory.Exists(directory))
            throw new DirectoryNotFoundException($"No capture directory at '{directory}'.");
        var header = ReadHeader(directory);
        var (entries, truncated) = ReadManifest(directory);
        var steps = entries.Select(e => e.Step).Distinct().Order().ToArray();
        var replayOptions = ReplayOptions(options, header, entries, steps);
        replayOptions.ThrowIfInvalid(nameof(options));
        logger = SafeLogger.Wrap(logger);

        var measurements = new List<LayerMeasurement>();
        var alerts = new List<CollapseAlert>();
        var sinkList = sinks?.ToArray() ?? [];
        using var engine = new SpectralEngine(replayOptions.ToEngineSettings());
        var detector = new CollapseDetector(replayOptions.Detection);

        // Each step's layers in first-appearance order: the order the capturing monitor watched them.
        var states = new Dictionary<string, SpectralState>(StringComparer.Ordinal);
        foreach (var entry in entries)
            states.TryAdd(entry.Layer, new SpectralState());
        var order = states.Keys.Select((name, i) => (name, i)).ToDictionary(p => p.name, p => p.i, StringComparer.Ordinal);
        try
        {
            foreach (var group in entries.GroupBy(e => e.Step).OrderBy(g => g.Key))
            {
                var stepEntries = group.GroupBy(e => e.Layer).Select(g => g.Last()).OrderBy(e => order[e.Layer]).ToList();
                LayerMeasurement[] stepMeasurements;
                using (var scope = NewDisposeScope())
                {
                    var inputs = stepEntries.Select(e => Input(directory, e, states[e.Layer])).ToList();
                    Links(stepEntries).Resolve(inputs);
                    stepMeasurements = engine.Measure(group.Key, inputs);
                }

                // As the monitor: the whole step at once, so that cross-layer rules judge it (the capture holds no
                // training signals, so run-level rules have nothing to judge).
                var stepAlerts = detector.ObserveStep(group.Key, stepMeasurements);
                var report = new StepReport { Step = group.Key, Measurements = Array.AsReadOnly(stepMeasurements), Alerts = stepAlerts };
                OfflinePublisher.Publish(report, detector.TakeFaults(), sinkList, logger);
                measurements.AddRange(report.Measurements);
                alerts.AddRange(report.Alerts);
            }
        }
        finally
        {
            foreach (var state in states.Values)
                state.Dispose();
        }

        return new OfflineAnalysis
        {
            Measurements = measurements.AsReadOnly(),
            Alerts = alerts.AsReadOnly(),
            Steps = steps,
            Options = replayOptions,
            TruncatedTail = truncated,
        };
    }

    /// <summary>The engine's input of one manifest entry: its saved (G, m, n) weight and (G, rows, n) rows, in the
    /// caller's dispose scope.</summary>
    private static LayerInput Input(string directory, CaptureManifestLine entry, SpectralState state)
    {
        // Captures of version 1 saved a Linear's weight as (m, n); they are one group.
        long[] shape = entry.WeightShape.Length == 2 ? [1, entry.WeightShape[0], entry.WeightShape[1]] : entry.WeightShape;
        var weight = Load(directory, entry.Weight, entry);
        if (weight.numel() != shape.Aggregate(1L, (a, b) => a * b))
            throw new InvalidDataException($"The weight of layer '{entry.Layer}' at step {entry.Step} has shape [{string.Join(", ", weight.shape)}]; the manifest says [{string.Join(", ", entry.WeightShape)}].");
        weight = weight.reshape(shape).to(ParseDType(entry.WeightDType, entry));
        Tensor? rows = null;
        if (entry.Rows is { } rowsFile)
        {
            rows = Load(directory, rowsFile, entry);
            if (rows.dim() == 2)
                rows = rows.unsqueeze(0);
        }

        try
        {
            return new LayerInput(entry.Layer, weight, rows, entry.InputRows, state);
        }
        catch (ArgumentException ex)
        {
            throw new InvalidDataException($"Capture of layer '{entry.Layer}' at step {entry.Step}: {ex.Message}", ex);
        }
    }

    /// <summary>The links the capturing monitor measured a step's layers with (each entry's <c>upstream</c>; none in
    /// captures written before links were recorded).</summary>
    private static LayerLinks Links(IEnumerable<CaptureManifestLine> stepEntries)
    {
        var links = new LayerLinks();
        foreach (var entry in stepEntries)
        {
            if (entry.Upstream is { } upstream)
                links.Add(upstream, entry.Layer);
        }

        return links;
    }

    private static Tensor Load(string directory, string relative, CaptureManifestLine entry)
    {
        var path = Path.GetFullPath(Path.Combine(directory, relative));
        if (!File.Exists(path))
            throw new InvalidDataException($"Capture file '{relative}' of layer '{entry.Layer}' at step {entry.Step} is missing.");
        return load(path);
    }

    private static SpectralMonitorOptions ReplayOptions(SpectralMonitorOptions? options, CaptureHeader? header, List<CaptureManifestLine> entries, long[] steps)
    {
        var result = options?.Clone() ?? new SpectralMonitorOptions();
        if (options is null && header is not null)
        {
            // The capturing monitor's settings; what the header lacks keeps the library's defaults.
            result.MaxSamplesPerLayer = header.MaxSamplesPerLayer ?? result.MaxSamplesPerLayer;
            result.HistogramBins = header.HistogramBins ?? result.HistogramBins;
            result.Seed = header.Seed ?? result.Seed;
            result.PowerIterations = header.PowerIterations ?? result.PowerIterations;
            result.MaxWarmIterations = header.MaxWarmIterations ?? result.MaxWarmIterations;
            result.SubspaceDimension = header.SubspaceDimension ?? result.SubspaceDimension;
            result.ResidualTolerance = header.ResidualTolerance ?? result.ResidualTolerance;
            result.RestartResidual = header.RestartResidual ?? result.RestartResidual;
            result.MaxPowerIterations = header.MaxPowerIterations ?? result.MaxPowerIterations;
        }

        // Measure exactly the saved steps' spacing (a stride or a late start leaves gaps the capturing interval has not).
        long interval = 0;
        foreach (var step in steps)
            interval = Gcd(interval, step);
        if (interval == 0)
            interval = header?.Interval ?? 1;
        result.Interval = (int)Math.Clamp(interval, 1, int.MaxValue);
        long maxRows = entries.Max(e => e.RowsShape is { Length: > 0 } shape ? shape[^2] : 0);
        result.MaxSamplesPerLayer = (int)Math.Max(result.MaxSamplesPerLayer, Math.Min(maxRows, int.MaxValue));
        result.SilentHookSteps = int.MaxValue;
        return result;
    }

    private static long Gcd(long a, long b)
    {
        while (b != 0)
            (a, b) = (b, a % b);
        return Math.Abs(a);
    }

    private static CaptureHeader? ReadHeader(string directory)
    {
        var path = Path.Combine(directory, CaptureFormat.HeaderFile);
        if (!File.Exists(path))
            return null;
        try
        {
            var header = JsonSerializer.Deserialize(File.ReadAllBytes(path), TelemetryJsonContext.Default.CaptureHeader);
            if (header is not null && (header.Format != CaptureFormat.FormatName || header.Version > CaptureFormat.FormatVersion))
                throw new InvalidDataException($"'{path}' is a {header.Format} version {header.Version} file; this analyser reads {CaptureFormat.FormatName} up to version {CaptureFormat.FormatVersion}.");
            return header;
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException($"'{path}' is not a valid capture header: {ex.Message}", ex);
        }
    }

    private static (List<CaptureManifestLine> Entries, bool Truncated) ReadManifest(string directory)
    {
        var path = Path.Combine(directory, CaptureFormat.ManifestFile);
        if (!File.Exists(path))
            throw new InvalidDataException($"The capture directory '{directory}' has no {CaptureFormat.ManifestFile}.");
        byte[] bytes;
        using (var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete))
        using (var buffer = new MemoryStream())
        {
            stream.CopyTo(buffer);
            bytes = buffer.ToArray();
        }

        var entries = new List<CaptureManifestLine>();
        var span = bytes.AsSpan();
        int lineNumber = 0;
        while (span.Length > 0)
        {
            lineNumber++;
            int end = span.IndexOf((byte)'\n');
            bool complete = end >= 0;
            var line = complete ? span[..end] : span;
            span = complete ? span[(end + 1)..] : [];
            if (line.Trim((byte)' ').IsEmpty)
                continue;
            try
            {
                var entry = JsonSerializer.Deserialize(line, TelemetryJsonContext.Default.CaptureManifestLine);
                if (entry is null || string.IsNullOrEmpty(entry.Layer) || string.IsNullOrEmpty(entry.Weight) || entry.WeightShape is not { Length: 2 or 3 })
                    throw new InvalidDataException($"{CaptureFormat.ManifestFile} line {lineNumber} is not a complete record.");
                if (entry.Upstream == entry.Layer)
                    throw new InvalidDataException($"{CaptureFormat.ManifestFile} line {lineNumber} links layer '{entry.Layer}' to itself as its upstream layer.");
                entries.Add(entry);
            }
            catch (JsonException ex)
            {
                if (!complete)
                    return (entries, true);
                throw new InvalidDataException($"{CaptureFormat.ManifestFile} line {lineNumber} is not valid JSON: {ex.Message}", ex);
            }
        }

        if (entries.Count == 0)
            throw new InvalidDataException($"The capture in '{directory}' holds no records.");
        return (entries, false);
    }

    private static ScalarType ParseDType(string name, CaptureManifestLine entry) =>
        Enum.TryParse<ScalarType>(name, out var dtype)
            ? dtype
            : throw new InvalidDataException($"Unknown dtype '{name}' for layer '{entry.Layer}' at step {entry.Step}.");
}
