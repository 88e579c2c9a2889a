namespace SpectralAlign.Telemetry;

/// <summary>
/// Settings of a <see cref="RunLogWriter"/>. Plain settable properties with their defaults declared here; the writer
/// validates them (listing every problem at once) and takes a copy.
/// </summary>
public sealed class RunLogOptions
{
    /// <summary>The JSON Lines file to write (its directory is created if needed). Required; no default.</summary>
    public string Path { get; set; } = "";

    /// <summary>Append to an existing file instead of replacing it (a resumed run). A partial last line left by a
    /// killed writer is cut off before appending, so the file stays readable. Default <c>false</c>: an existing file
    /// is replaced.</summary>
    public bool Append { get; set; }

    /// <summary>After every measured step the records are handed to the operating system, so a killed process loses
    /// at most the step in flight. With <c>true</c> they are also forced to the storage device (fsync), which
    /// survives a machine crash but costs a disk round trip per measured step. Default <c>false</c>.</summary>
    public bool FlushToDisk { get; set; }

    /// <summary>Free-form run metadata written into the file's header line (e.g. <c>run</c>, <c>rank</c>,
    /// <c>model</c>). Default: empty.</summary>
    public IDictionary<string, string> Tags { get; set; } = new Dictionary<string, string>();

    /// <summary>The clock of the header's <c>created</c> time (tests pass a fake one). Default
    /// <see cref="TimeProvider.System"/>.</summary>
    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;

    /// <summary>Lists every problem with these options; empty when they are valid.</summary>
    /// <returns>The problems, one sentence each.</returns>
    public IReadOnlyList<string> Validate()
    {
        var problems = new List<string>();
        if (string.IsNullOrWhiteSpace(Path))
            problems.Add("Path must name a file (was empty).");
        else if (Path.IndexOfAny(System.IO.Path.GetInvalidPathChars()) >= 0)
            problems.Add($"Path contains characters that are not allowed in a path (was '{Path}').");
        if (Tags is null)
            problems.Add("Tags must not be null (use an empty dictionary).");
        else if (Tags.Any(t => string.IsNullOrWhiteSpace(t.Key) || t.Value is null))
            problems.Add("Tags must have non-empty keys and non-null values.");
        if (TimeProvider is null)
            problems.Add("TimeProvider must not be null (the default is TimeProvider.System).");
        return problems;
    }

    internal RunLogOptions Clone() => new()
    {
        Path = Path,
        Append = Append,
        FlushToDisk = FlushToDisk,
        Tags = Tags is null ? null! : new Dictionary<string, string>(Tags),
        TimeProvider = TimeProvider,
    };
}
