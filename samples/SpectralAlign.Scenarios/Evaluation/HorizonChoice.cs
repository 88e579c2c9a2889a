namespace SpectralAlign.Scenarios.Evaluation;

/// <summary>The setting of a detector chosen on every family at once (see <see cref="HorizonEvaluation.Choices"/>).</summary>
/// <param name="Detector">The detector.</param>
/// <param name="Horizon">H.</param>
/// <param name="Setting">The chosen setting.</param>
/// <param name="OwnAlarms">Whether it is judged by its own alarms.</param>
/// <param name="Threshold">θ of a thresholded setting, else NaN.</param>
/// <param name="FalseAlarmsPer1k">False alarms per 1,000 healthy steps over every family.</param>
/// <param name="WarnedShare">Share of every family's explosions warned within H.</param>
/// <param name="MeanAuroc">Mean of the families' AUROCs.</param>
public sealed record HorizonChoice(string Detector, int Horizon, string Setting, bool OwnAlarms, double Threshold, double FalseAlarmsPer1k, double WarnedShare, double MeanAuroc)
{
    /// <summary>Whether this is the setting chosen (else another candidate, for comparison).</summary>
    public bool Chosen { get; init; } = true;

    /// <summary>Alarm onsets on every family's healthy steps.</summary>
    public int FalseAlarms { get; init; }

    /// <summary>Share of every family's explosions warned within H at least the minimum lead ahead.</summary>
    public double WarnedAheadShare { get; init; } = double.NaN;
}
