namespace SpectralAlign.Scenarios.Evaluation;

/// <summary>The result of <see cref="LeaveOneFamilyOut.Evaluate"/>.</summary>
/// <param name="Settings">The settings used.</param>
/// <param name="Families">The families, in report order.</param>
/// <param name="Detectors">The detectors, in report order.</param>
/// <param name="Cells">One cell per horizon, detector and left-out family.</param>
public sealed record HorizonEvaluation(HorizonEvaluationSettings Settings, IReadOnlyList<FamilySummary> Families, IReadOnlyList<HorizonDetector> Detectors, IReadOnlyList<HorizonCell> Cells)
{
    /// <summary>The cell of one horizon, detector and family.</summary>
    /// <param name="horizon">H.</param>
    /// <param name="detector">Detector name.</param>
    /// <param name="family">Family.</param>
    /// <returns>The cell.</returns>
    public HorizonCell Cell(int horizon, string detector, string family) =>
        Cells.Single(c => c.Horizon == horizon && c.Detector == detector && c.Family == family);

    /// <summary>Per detector and horizon, the setting chosen on every family at once (nothing left out): what a
    /// shipped default of that detector would be. Its numbers are on the families it was chosen on, so they are not an
    /// evaluation; the cells are.</summary>
    public IReadOnlyList<HorizonChoice> Choices { get; init; } = [];

    /// <summary>Every candidate setting of every detector on every family at once, chosen or not (the evidence behind
    /// <see cref="Choices"/>).</summary>
    public IReadOnlyList<HorizonChoice> Candidates { get; init; } = [];
}
