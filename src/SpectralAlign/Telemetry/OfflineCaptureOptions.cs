namespace SpectralAlign.Telemetry;

/// <summary>
/// Settings of an <see cref="OfflineCaptureSink"/>. Plain settable properties with their defaults declared here;
/// validated (every problem listed at once) and copied at construction.
/// </summary>
public sealed class OfflineCaptureOptions
{
    /// <summary>The directory the capture is written to (created if needed). It must not exist or be empty: a
    /// capture never deletes or mixes with existing files (the sink's constructor throws <see cref="IOException"/>
    /// otherwise). Required; no default.</summary>
    public string Directory { get; set; } = "";

    /// <summary>Save every <c>MeasurementStride</c>-th measured step (1 = every measured step). Each saved step costs
    /// a layer's sampled rows (≤ <see cref="SpectralMonitorOptions.MaxSamplesPerLayer"/> × in_features) plus its
    /// whole weight, per watched layer. Default <c>1</c>.</summary>
    public int MeasurementStride { get; set; } = 1;

    /// <summary>The clock of the header's <c>created</c> time (tests pass a fake one). Default
    /// <see cref="TimeProvider.System"/>.</summary>
    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;

    /// <summary>Lists every problem with these options; empty when they are valid.</summary>
    /// <returns>The problems, one sentence each.</returns>
    public IReadOnlyList<string> Validate()
    {
        var problems = new List<string>();
        if (string.IsNullOrWhiteSpace(Directory))
            problems.Add("Directory must name a directory (was empty).");
        else if (Directory.IndexOfAny(Path.GetInvalidPathChars()) >= 0)
            problems.Add($"Directory contains characters that are not allowed in a path (was '{Directory}').");
        if (MeasurementStride < 1)
            problems.Add($"MeasurementStride must be >= 1 (was {MeasurementStride}).");
        if (TimeProvider is null)
            problems.Add("TimeProvider must not be null (the default is TimeProvider.System).");
        return problems;
    }

    internal OfflineCaptureOptions Clone() => new() { Directory = Directory, MeasurementStride = MeasurementStride, TimeProvider = TimeProvider };
}
