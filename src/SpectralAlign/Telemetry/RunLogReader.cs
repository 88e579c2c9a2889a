using System.Text;
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

    /// <summary>Reads a run log from a stream (UTF-8 JSON Lines) to its end.</summary>
    /// <param name="stream">The stream.</param>
    /// <returns>Its records.</returns>
    /// <exception cref="InvalidDataException">A line other than the last is not a valid record.</exception>
    public static RunLog Read(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        using var buffer = new MemoryStream();
        stream.CopyTo(buffer);
        var bytes = buffer.GetBuffer().AsSpan(0, (int)buffer.Length);

        var measurements = new List<LayerMeasurement>();
        var alerts = new List<CollapseAlert>();
        var scalars = new List<RunLogScalar>();
        var markers = new List<RunLogMarker>();
        var layers = new List<string>();
        var seenLayers = new HashSet<string>(StringComparer.Ordinal);
        IReadOnlyDictionary<string, string> tags = new Dictionary<string, string>();
        DateTimeOffset? created = null;
        bool truncated = false;

        int lineNumber = 0;
        while (bytes.Length > 0)
        {
            lineNumber++;
            int end = bytes.IndexOf((byte)'\n');
            bool complete = end >= 0;
            var line = complete ? bytes[..end] : bytes;
            bytes = complete ? bytes[(end + 1)..] : [];
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
                        alerts.Add(new CollapseAlert
                        {
                            Layer = m.Layer,
                            Step = m.Step,
                            Stats = m.Stats,
                            Reason = a.Reason,
                            Detail = a.Detail,
                            EpisodeStartStep = a.EpisodeStart,
                            Measurement = m,
                        });
                    }

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
}
