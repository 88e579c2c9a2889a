namespace SpectralAlign.Detection;

/// <summary>A rule's verdict on one measurement, with an optional human-readable explanation.</summary>
/// <param name="Kind">The verdict.</param>
/// <param name="Detail">Why, with the numbers involved; shown in the alert and the log.</param>
public readonly record struct DetectorVerdict(VerdictKind Kind, string Detail)
{
    /// <summary>The rule is still learning.</summary>
    public static DetectorVerdict Warming { get; } = new(VerdictKind.Warming, "");

    /// <summary>A healthy measurement.</summary>
    public static DetectorVerdict Normal { get; } = new(VerdictKind.Normal, "");

    /// <summary>An anomalous measurement, explained by <paramref name="detail"/>.</summary>
    /// <param name="detail">Why the measurement is anomalous.</param>
    /// <returns>The verdict.</returns>
    public static DetectorVerdict Anomalous(string detail) => new(VerdictKind.Anomalous, detail);
}
