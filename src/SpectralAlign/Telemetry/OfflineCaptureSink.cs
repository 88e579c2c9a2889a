using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using SpectralAlign.Spectral;
using static TorchSharp.torch;

namespace SpectralAlign.Telemetry;

/// <summary>
/// Offline mode (paper §3.3): saves, on measured steps, each watched layer's subsampled input rows and its weight to
/// a directory, so that <see cref="OfflineAnalyzer"/> can compute the same statistics later, away from the training
/// loop. Register with <see cref="SpectralMonitor.AddCaptureSink"/>. The format is documented in the README
/// ("Offline mode"): a <c>capture.json</c> header, a <c>manifest.jsonl</c> index and one TorchSharp tensor file per
/// layer, step and kind.
/// </summary>
/// <remarks>
/// <para>The monitor still measures online; to keep the training loop's own cost minimal, raise
/// <see cref="SpectralMonitorOptions.Interval"/> and analyse offline. Saving copies the tensors to the CPU and writes
/// them synchronously on the thread that calls <see cref="SpectralMonitor.Step()"/>.</para>
/// <para>Crash-safe like the run log: a manifest record is appended only after its tensor files are written, and the
/// manifest is flushed after every record. Never throws into the training loop: failures are logged (event id 22).
/// </para>
/// </remarks>
public sealed class OfflineCaptureSink : ICaptureSink, IDisposable
{
    private readonly OfflineCaptureOptions _options;
    private readonly ILogger _logger;
    private readonly object _gate = new();
    private readonly FileStream _manifest;
    private readonly Dictionary<string, string> _fileStems = new(StringComparer.Ordinal);
    private readonly HashSet<string> _usedStems = new(StringComparer.Ordinal);
    private long _lastStep = long.MinValue;
    private long _measuredSteps;
    private bool _saveCurrentStep;
    private bool _disposed;

    /// <summary>Creates the capture directory and writes its header.</summary>
    /// <param name="options">Settings; validated and copied.</param>
    /// <param name="monitorOptions">The capturing monitor's options (<see cref="SpectralMonitor.Options"/>), recorded
    /// in the header so the analyser measures with the same settings; <c>null</c> to record none (the analyser then
    /// uses its own options).</param>
    /// <param name="logger">Receives failures; <c>null</c> for none.</param>
    /// <exception cref="ArgumentException">The options are invalid; the message lists every problem.</exception>
    /// <exception cref="IOException">The directory is not empty, or it or its files cannot be created.</exception>
    /// <exception cref="UnauthorizedAccessException">The directory is not writable.</exception>
    public OfflineCaptureSink(OfflineCaptureOptions options, SpectralMonitorOptions? monitorOptions = null, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        OptionProblems.ThrowIfAny(options.Validate(), nameof(OfflineCaptureOptions), nameof(options));
        _options = options.Clone();
        _logger = SafeLogger.Wrap(logger);
        Directory = Path.GetFullPath(_options.Directory);
        if (System.IO.Directory.Exists(Directory) && System.IO.Directory.EnumerateFileSystemEntries(Directory).Any())
        {
            throw new IOException(
                $"The capture directory '{Directory}' is not empty. A capture never deletes or mixes with existing files: choose a new directory, or delete this one's contents first.");
        }

        System.IO.Directory.CreateDirectory(Directory);

        var header = new CaptureHeader
        {
            Created = _options.TimeProvider.GetUtcNow(),
            Interval = monitorOptions?.Interval,
            MaxSamplesPerLayer = monitorOptions?.MaxSamplesPerLayer,
            HistogramBins = monitorOptions?.HistogramBins,
            Seed = monitorOptions?.Seed,
            PowerIterations = monitorOptions?.PowerIterations,
            SubspaceDimension = monitorOptions?.SubspaceDimension,
            MaxWarmIterations = monitorOptions?.MaxWarmIterations,
            ResidualTolerance = monitorOptions?.ResidualTolerance,
            RestartResidual = monitorOptions?.RestartResidual,
            MaxPowerIterations = monitorOptions?.MaxPowerIterations,
        };
        File.WriteAllBytes(Path.Combine(Directory, CaptureFormat.HeaderFile), JsonSerializer.SerializeToUtf8Bytes(header, TelemetryJsonContext.Default.CaptureHeader));
        _manifest = new FileStream(Path.Combine(Directory, CaptureFormat.ManifestFile), FileMode.Create, FileAccess.Write, FileShare.Read);
    }

    /// <summary>The full path of the capture directory.</summary>
    public string Directory { get; }

    /// <summary>Saves one layer's rows and weight (on every <see cref="OfflineCaptureOptions.MeasurementStride"/>-th
    /// measured step).</summary>
    /// <param name="record">The rows and weight; valid only during the call.</param>
    public void OnCapture(CaptureRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        lock (_gate)
        {
            if (_disposed)
                return;
            if (record.Step != _lastStep)
            {
                _lastStep = record.Step;
                _saveCurrentStep = _measuredSteps++ % _options.MeasurementStride == 0;
            }

            if (!_saveCurrentStep)
                return;
            try
            {
                Save(record);
            }
#pragma warning disable CA1031 // A failing capture must never stop training.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                Log.OfflineCaptureFailed(_logger, record.Layer, record.Step, Directory, ex);
            }
        }
    }

    /// <summary>Flushes and closes the manifest. Idempotent; later captures are ignored.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed)
                return;
            _disposed = true;
            _manifest.Dispose();
        }
    }

    private void Save(CaptureRecord record)
    {
        string stem = FileStem(record.Layer);
        string stepDirectory = Path.Combine(CaptureFormat.StepsDirectory, record.Step.ToString("D9", CultureInfo.InvariantCulture));
        System.IO.Directory.CreateDirectory(Path.Combine(Directory, stepDirectory));
        var line = new CaptureManifestLine { Step = record.Step, Layer = record.Layer, InputRows = record.InputRows, Upstream = record.Upstream };

        using (var scope = NewDisposeScope())
        using (var noGrad = no_grad())
        {
            if (record.Rows is { } rows)
            {
                line.Rows = Path.Combine(stepDirectory, stem + ".rows.pt").Replace('\\', '/');
                line.RowsShape = rows.shape;
                line.RowsDType = rows.dtype.ToString();
                DeviceTransfer.ToHost(rows.detach()).contiguous().save(Path.Combine(Directory, line.Rows));
            }

            var weight = record.Weight;
            line.Weight = Path.Combine(stepDirectory, stem + ".weight.pt").Replace('\\', '/');
            line.WeightShape = weight.shape;
            line.WeightDType = weight.dtype.ToString();
            DeviceTransfer.ToHost(weight.detach()).contiguous().save(Path.Combine(Directory, line.Weight));
        }

        var json = JsonSerializer.SerializeToUtf8Bytes(line, TelemetryJsonContext.Default.CaptureManifestLine);
        var buffer = new byte[json.Length + 1];
        json.CopyTo(buffer, 0);
        buffer[^1] = (byte)'\n';
        _manifest.Write(buffer);
        _manifest.Flush();
    }

    /// <summary>A file-system-safe, unique file stem per layer name (e.g. <c>blocks.0.attn.q</c> stays as is).</summary>
    private string FileStem(string layer)
    {
        if (_fileStems.TryGetValue(layer, out var stem))
            return stem;
        var safe = new StringBuilder(layer.Length);
        foreach (char c in layer)
            safe.Append(char.IsAsciiLetterOrDigit(c) || c is '.' or '-' or '_' ? c : '_');
        if (safe.Length == 0 || safe[0] == '.')
            safe.Insert(0, '_');
        stem = safe.ToString();
        for (int i = 2; !_usedStems.Add(stem); i++)
            stem = safe + "~" + i.ToString(CultureInfo.InvariantCulture);
        _fileStems[layer] = stem;
        return stem;
    }
}
