namespace SpectralAlign.Scenarios.Evaluation;

/// <summary>A detector under evaluation by horizon: a name, a kind, and its candidate settings (the evaluation picks
/// one per left-out family, on the other families; see <see cref="LeaveOneFamilyOut"/>).</summary>
/// <param name="Name">The row name in the report.</param>
/// <param name="Kind"><c>SA</c> for spectral-alignment signals, <c>baseline</c> for the usual ones.</param>
/// <param name="Settings">One or more candidate settings.</param>
public sealed record HorizonDetector(string Name, string Kind, IReadOnlyList<DetectorSetting> Settings);
