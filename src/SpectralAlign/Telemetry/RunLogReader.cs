using System.Text.Json;

namespace SpectralAlign.Telemetry;

/// <summary>
/// Reads a run log written by <see cref="RunLogWriter"/>, also while it is still being written or after its writer
/// was killed: an incomplete last line is skipped and reported in <see cref="RunLog.TruncatedTail"/>. Records of an
/// unknown type are ignored (forward compatibility); a malformed line anywhere else is an error.
/// </summary>
public static class RunLogReader
{
    /// <summary>Reads a run log file.</summary>
    /// <param name="path">The file.</param>
    /// <returns>Its records.</returns>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">A line other than the last is not a valid record; the message names
    /// the line.</exception>
    public static RunLog Read(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        return Read(stream);
    }

    /// <summary>Reads a run log from a stream (UTF-8 JSON Lines) to its end, line by line: memory grows with the
    /// records, not with the file (blank lines and unknown record types cost nothing), and files of any length are
    /// read.</summary>
    /// <param name="stream">The stream.</param>
    /// <returns>Its records.</returns>
    /// <exception cref="InvalidDataException">A line other than the last is not a valid record.</exception>
    public static RunLog Read(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        var measurements = new List<LayerMeasurement>();
        var alerts = new List<CollapseAlert>();
        var scalars = new List<RunLogScalar>();
        var markers = new List<RunLogMarker>();
        var layers = new List<string>();
        var seenLayers = new HashSet<string>(StringComparer.Ordinal);
        IReadOnlyDictionary<string, string> tags = new Dictionary<string, string>();
        DateTimeOffset? created = null;
        bool truncated = false;

        var lines = new LineReader(stream);
        int lineNumber = 0;
        while (lines.Next(out var line, out bool complete))
        {
            lineNumber++;
            if (line.IsEmpty || IsWhiteSpace(line))
                continue;

            RunLogLine? record;
            try
            {
                record = JsonSerializer.Deserialize(line, TelemetryJsonContext.Default.RunLogLine);
            }
            catch (JsonException ex)
            {
                if (!complete)
                {
                    truncated = true; // a writer killed mid-record
                    break;
                }

                throw new InvalidDataException($"Run log line {lineNumber} is not a valid JSON record: {ex.Message}", ex);
            }

            if (record is null)
                continue;
            switch (record.Type)
            {
                case RunLogLine.HeaderType:
                    tags = record.Tags ?? new Dictionary<string, string>();
                    created = record.Created;
                    break;
                case RunLogLine.MeasurementType:
                    var m = record.ToMeasurement(lineNumber);
                    measurements.Add(m);
                    if (seenLayers.Add(m.Layer))
                        layers.Add(m.Layer);
                    foreach (var a in record.Alerts ?? [])
                    {
                        if (a?.Reason is null)
                            throw new InvalidDataException($"Run log line {lineNumber}: an alert of layer '{m.Layer}' without 'reason'.");
                        alerts.Add(new CollapseAlert
                        {
                            Layer = m.Layer,
                            Step = m.Step,
                            Stats = m.Stats,
                            Reason = a.Reason,
                            Detail = a.Detail ?? "",
                            EpisodeStartStep = a.EpisodeStart,
                            Measurement = m,
                        });
                    }

                    break;
                case RunLogLine.AlertType:
                    alerts.Add(record.ToAlert(lineNumber));
                    break;
                case RunLogLine.ScalarType:
                    scalars.Add(new RunLogScalar { Step = record.Step ?? 0, Name = record.Name ?? "", Value = record.Value ?? double.NaN });
                    break;
                case RunLogLine.MarkerType:
                    markers.Add(new RunLogMarker { Step = record.Step ?? 0, Name = record.Name ?? "", Detail = record.Detail ?? "" });
                    break;
                default:
                    break; // a record type from a newer writer
            }
        }

        return new RunLog
        {
            Tags = tags,
            Created = created,
            Measurements = measurements.AsReadOnly(),
            Alerts = alerts.AsReadOnly(),
            Scalars = scalars.AsReadOnly(),
            Markers = markers.AsReadOnly(),
            Layers = layers.AsReadOnly(),
            TruncatedTail = truncated,
        };
    }

    private static bool IsWhiteSpace(ReadOnlySpan<byte> line)
    {
        foreach (var b in line)
        {
            if (b is not ((byte)' ' or (byte)'\t' or (byte)'\r'))
                return false;
        }

        return true;
    }

    /// <summary>Splits a stream into lines without holding more than the longest line (plus one read buffer).</summary>
    private sealed class LineReader(Stream stream)
    {
        private byte[] _buffer = new byte[64 * 1024];
        private int _start;
        private int _end;
        private bool _eof;

        /// <summary>The next line without its newline; <paramref name="complete"/> is false for a last line that
        /// has no newline. Valid until the next call.</summary>
        public bool Next(out ReadOnlySpan<byte> line, out bool complete)
        {
            int scanned = 0;
            while (true)
            {
                int newline = _buffer.AsSpan(_start + scanned, _end - _start - scanned).IndexOf((byte)'\n');
                if (newline >= 0)
                {
                    line = _buffer.AsSpan(_start, scanned + newline);
                    _start += scanned + newline + 1;
                    complete = true;
                    return true;
                }

                scanned = _end - _start;
                if (_eof)
                {
                    line = _buffer.AsSpan(_start, scanned);
                    _start = _end;
                    complete = false;
                    return scanned > 0;
                }

                Fill();
            }
        }

        private void Fill()
        {
            int pending = _end - _start;
            if (_start > 0)
            {
                Buffer.BlockCopy(_buffer, _start, _buffer, 0, pending);
                _start = 0;
                _end = pending;
            }

            if (_end == _buffer.Length)
                Array.Resize(ref _buffer, checked(_buffer.Length * 2));
            int read = stream.Read(_buffer, _end, _buffer.Length - _end);
            if (read == 0)
                _eof = true;
            _end += read;
        }
    }
}
