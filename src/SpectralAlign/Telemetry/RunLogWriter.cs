using System.Text.Json;
using Microsoft.Extensions.Logging;

namespace SpectralAlign.Telemetry;

/// <summary>
/// An opt-in, crash-safe run log: a JSON Lines file with one record per watched layer per measured step (step,
/// layer, every statistic, the histogram bins, the conditions and the alerts it raised), one record per run-level
/// alert (loss, gradient norm), plus any scalars
/// (<see cref="WriteScalar"/>) and markers (<see cref="WriteMarker"/>) you add. Read it back with
/// <see cref="RunLogReader"/>; the format is described in the README ("Run log").
/// </summary>
/// <remarks>
/// <para>Register it with <see cref="SpectralMonitor.AddSink"/>; dispose the registration, then the writer.</para>
/// <para>Crash safety: each record is written as one line with one write call, and the file is flushed to the
/// operating system after every measured step (and after every scalar or marker), so a process killed mid-run loses
/// at most the step in flight; a killed writer can leave a partial last line, which <see cref="RunLogReader"/>
/// skips. <see cref="RunLogOptions.FlushToDisk"/> also survives a machine crash.</para>
/// <para>Never throws into the training loop: a failed write is logged (event id 20) and the next write tries
/// again. Thread-safe.</para>
/// </remarks>
public sealed class RunLogWriter : ISpectralSink, IDisposable
{
    private readonly RunLogOptions _options;
    private readonly ILogger _logger;
    private readonly object _gate = new();
    private readonly FileStream _stream;
    private bool _disposed;

    /// <summary>Creates (or, with <see cref="RunLogOptions.Append"/>, opens) the run log and writes its header.</summary>
    /// <param name="options">Settings; validated and copied.</param>
    /// <param name="logger">Receives write failures; <c>null</c> for none.</param>
    /// <exception cref="ArgumentException">The options are invalid; the message lists every problem.</exception>
    /// <exception cref="IOException">The file cannot be created or opened.</exception>
    /// <exception cref="UnauthorizedAccessException">The file or its directory is not writable.</exception>
    public RunLogWriter(RunLogOptions options, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        OptionProblems.ThrowIfAny(options.Validate(), nameof(RunLogOptions), nameof(options));
        _options = options.Clone();
        _logger = SafeLogger.Wrap(logger);
        Path = System.IO.Path.GetFullPath(_options.Path);
        if (System.IO.Path.GetDirectoryName(Path) is { Length: > 0 } directory)
            Directory.CreateDirectory(directory);

        _stream = new FileStream(Path, _options.Append ? FileMode.OpenOrCreate : FileMode.Create, FileAccess.ReadWrite, FileShare.Read);
        if (_options.Append)
            CutPartialLastLine(_stream);
        if (_stream.Length == 0)
        {
            WriteLine(RunLogLine.Header(_options.Tags, _options.TimeProvider.GetUtcNow()));
            _stream.Flush(_options.FlushToDisk);
        }
    }

    /// <summary>The full path of the file being written.</summary>
    public string Path { get; }

    /// <summary>Records every measurement of the step with the alerts it raised, then every other alert of the step
    /// (run-level alerts: loss, gradient norm) as an <c>alert</c> record, and flushes.</summary>
    /// <param name="report">The step's measurements and alerts.</param>
    public void OnStep(StepReport report)
    {
        ArgumentNullException.ThrowIfNull(report);
        Write(report.Step, () =>
        {
            foreach (var m in report.Measurements)
                WriteLine(RunLogLine.FromMeasurement(m, report.Alerts.Where(a => a.Layer == m.Layer)));
            foreach (var alert in report.Alerts)
            {
                if (!report.Measurements.Any(m => m.Layer == alert.Layer))
                    WriteLine(RunLogLine.FromAlert(alert));
            }
        });
    }

    /// <summary>Records a named value (the loss, the learning rate, …) for <paramref name="step"/> and flushes.
    /// Plots draw a scalar named <c>loss</c> under the sign diversity. Never throws.</summary>
    /// <param name="step">The training step.</param>
    /// <param name="name">The value's name.</param>
    /// <param name="value">The value; NaN and infinities are recorded as such.</param>
    public void WriteScalar(long step, string name, double value) =>
        Write(step, () => WriteLine(new RunLogLine { Type = RunLogLine.ScalarType, Step = step, Name = name ?? "", Value = value }));

    /// <summary>Records a named event (the loss exploded, the learning rate was lowered, …) at
    /// <paramref name="step"/> and flushes. Plots draw markers as labelled vertical lines. Never throws.</summary>
    /// <param name="step">The training step.</param>
    /// <param name="name">The event's name.</param>
    /// <param name="detail">Optional free text.</param>
    public void WriteMarker(long step, string name, string? detail = null) =>
        Write(step, () => WriteLine(new RunLogLine { Type = RunLogLine.MarkerType, Step = step, Name = name ?? "", Detail = detail ?? "" }));

    /// <summary>Flushes and closes the file. Idempotent; later writes are ignored.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed)
                return;
            _disposed = true;
            try
            {
                _stream.Flush(_options.FlushToDisk);
            }
            catch (IOException ex)
            {
                Log.RunLogWriteFailed(_logger, Path, -1, ex);
            }

            _stream.Dispose();
        }
    }

    private void Write(long step, Action write)
    {
        lock (_gate)
        {
            if (_disposed)
                return;
            try
            {
                write();
                _stream.Flush(_options.FlushToDisk);
            }
#pragma warning disable CA1031 // A failing run log must never stop training.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                Log.RunLogWriteFailed(_logger, Path, step, ex);
            }
        }
    }

    private void WriteLine(RunLogLine line)
    {
        // One buffer, one write call: a kill leaves at most one partial line, at the end.
        var json = JsonSerializer.SerializeToUtf8Bytes(line, TelemetryJsonContext.Default.RunLogLine);
        var buffer = new byte[json.Length + 1];
        json.CopyTo(buffer, 0);
        buffer[^1] = (byte)'\n';
        _stream.Write(buffer);
    }

    /// <summary>Truncates the file after its last newline (a killed writer's partial record) and moves to the end.</summary>
    private static void CutPartialLastLine(FileStream stream)
    {
        long length = stream.Length;
        long keep = length;
        var one = new byte[1];
        while (keep > 0)
        {
            stream.Position = keep - 1;
            stream.ReadExactly(one);
            if (one[0] == (byte)'\n')
                break;
            keep--;
        }

        if (keep != length)
            stream.SetLength(keep);
        stream.Position = keep;
    }
}
