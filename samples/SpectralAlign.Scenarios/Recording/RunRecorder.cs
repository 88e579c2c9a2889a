using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace SpectralAlign.Scenarios.Recording;

/// <summary>
/// Writes a run record in the JSON Lines format of <see cref="RunRecords"/>. Every line is written whole and flushed
/// to the operating system at once, so a run that dies leaves a readable record up to its last step. Not
/// thread-safe (the monitor raises its events on the training thread).
/// </summary>
public sealed class RunRecorder : IDisposable
{
    private static readonly byte[] NewLine = "\n"u8.ToArray();
    private readonly FileStream _stream;
    private bool _disposed;

    /// <summary>Creates (or overwrites) the record file.</summary>
    /// <param name="path">The file.</param>
    public RunRecorder(string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        _stream = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.Read, 1 << 16);
        FilePath = path;
    }

    /// <summary>The record file.</summary>
    public string FilePath { get; }

    /// <summary>Writes the header.</summary>
    /// <param name="header">The header.</param>
    public void Write(RunHeader header) => WriteLine(JsonSerializer.SerializeToUtf8Bytes(header, RunRecords.Options));

    /// <summary>Writes a step.</summary>
    /// <param name="step">The step.</param>
    public void Write(StepRecord step) => WriteLine(JsonSerializer.SerializeToUtf8Bytes(step, RunRecords.Options));

    /// <summary>Writes an alert.</summary>
    /// <param name="alert">The alert.</param>
    public void Write(AlertRecord alert) => WriteLine(JsonSerializer.SerializeToUtf8Bytes(alert, RunRecords.Options));

    /// <summary>Writes the end line.</summary>
    /// <param name="summary">The summary.</param>
    public void Write(RunSummary summary) => WriteLine(JsonSerializer.SerializeToUtf8Bytes(summary, RunRecords.Options));

    /// <summary>Writes a measurement with all its properties.</summary>
    /// <param name="measurement">The measurement.</param>
    public void Write(LayerMeasurement measurement)
    {
        var node = JsonSerializer.SerializeToNode(measurement, RunRecords.Options)!.AsObject();
        var line = new JsonObject { ["type"] = "measurement" };
        foreach (var (key, value) in node.ToList())
        {
            node.Remove(key);
            line[key] = value;
        }

        WriteLine(Encoding.UTF8.GetBytes(line.ToJsonString(RunRecords.Options)));
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (_disposed)
            return;
        _disposed = true;
        _stream.Flush(flushToDisk: true);
        _stream.Dispose();
    }

    private void WriteLine(byte[] json)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        _stream.Write(json);
        _stream.Write(NewLine);
        _stream.Flush();
    }
}
