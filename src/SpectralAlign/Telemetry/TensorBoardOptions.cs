namespace SpectralAlign.Telemetry;

/// <summary>
/// Settings of a <see cref="TensorBoardSink"/>. Plain settable properties with their defaults declared here;
/// validated (every problem listed at once) and copied at construction.
/// </summary>
public sealed class TensorBoardOptions
{
    /// <summary>The TensorBoard log directory of this run (e.g. <c>runs/exp1</c>); an event file is created in it.
    /// Point TensorBoard at its parent to compare runs. Required; no default.</summary>
    public string LogDirectory { get; set; } = "";

    /// <summary>First component of every tag: tags are <c>{TagPrefix}/{layer}/{quantity}</c>, so TensorBoard groups
    /// all spectral-alignment charts in one section. Default <c>"spectral_alignment"</c>.</summary>
    public string TagPrefix { get; set; } = "spectral_alignment";

    /// <summary>Write the SA histogram of every layer at every measured step (the distribution view). Default
    /// <c>true</c>.</summary>
    public bool Histograms { get; set; } = true;

    /// <summary>Write each alert as a text summary under <c>{TagPrefix}/{layer}/alerts</c>. Default <c>true</c>.</summary>
    public bool AlertText { get; set; } = true;

    /// <summary>Lists every problem with these options; empty when they are valid.</summary>
    /// <returns>The problems, one sentence each.</returns>
    public IReadOnlyList<string> Validate()
    {
        var problems = new List<string>();
        if (string.IsNullOrWhiteSpace(LogDirectory))
            problems.Add("LogDirectory must name a directory (was empty).");
        else if (LogDirectory.IndexOfAny(Path.GetInvalidPathChars()) >= 0)
            problems.Add($"LogDirectory contains characters that are not allowed in a path (was '{LogDirectory}').");
        if (string.IsNullOrWhiteSpace(TagPrefix))
            problems.Add("TagPrefix must not be empty.");
        else if (TagPrefix.Contains(' ', StringComparison.Ordinal))
            problems.Add($"TagPrefix must not contain spaces (was '{TagPrefix}').");
        return problems;
    }

    internal TensorBoardOptions Clone() => new() { LogDirectory = LogDirectory, TagPrefix = TagPrefix, Histograms = Histograms, AlertText = AlertText };
}
