namespace SpectralAlign.Scenarios.Evaluation;

/// <summary>One detector on one left-out family at one horizon: what was chosen on the other families and how it
/// did on this one.</summary>
public sealed record HorizonCell
{
    /// <summary>Detector name.</summary>
    public required string Detector { get; init; }

    /// <summary>The family left out (reported on).</summary>
    public required string Family { get; init; }

    /// <summary>H.</summary>
    public int Horizon { get; init; }

    /// <summary>The setting chosen on the other families.</summary>
    public required string Setting { get; init; }

    /// <summary>Its persistence k.</summary>
    public int Persistence { get; init; }

    /// <summary>Whether the alarms are the detector's own (no threshold).</summary>
    public bool OwnAlarms { get; init; }

    /// <summary>θ chosen on the other families (NaN with own alarms, or when none could be chosen).</summary>
    public double Threshold { get; init; }

    /// <summary>AUROC on the left-out family.</summary>
    public required MetricEstimate Auroc { get; init; }

    /// <summary>Average precision on the left-out family.</summary>
    public required MetricEstimate AveragePrecision { get; init; }

    /// <summary>False alarms per 1,000 healthy steps on the left-out family.</summary>
    public required MetricEstimate FalseAlarmsPer1k { get; init; }

    /// <summary>Share of the left-out family's explosions warned within H.</summary>
    public required MetricEstimate WarnedShare { get; init; }

    /// <summary>Median lead over the left-out family's exploding runs that have one.</summary>
    public required MetricEstimate MedianLead { get; init; }

    /// <summary>Share of the exploding runs (with positive steps) warned within H at least
    /// <see cref="HorizonEvaluationSettings.MinimumLead"/> steps ahead (<see cref="Alarms.WarnedAhead"/>).</summary>
    public MetricEstimate WarnedAheadShare { get; init; } = new(double.NaN, double.NaN, double.NaN);

    /// <summary>Exploding runs warned within H at least the minimum lead ahead.</summary>
    public int WarnedAhead { get; init; }

    /// <summary>Positive steps.</summary>
    public long Positives { get; init; }

    /// <summary>Negative steps.</summary>
    public long Negatives { get; init; }

    /// <summary>Healthy steps.</summary>
    public long HealthySteps { get; init; }

    /// <summary>False alarms (onsets on healthy steps).</summary>
    public int FalseAlarms { get; init; }

    /// <summary>Exploding runs with at least one positive step.</summary>
    public int Explosions { get; init; }

    /// <summary>Of those, warned within H.</summary>
    public int Warned { get; init; }

    /// <summary>Exploding runs with a lead.</summary>
    public int Leads { get; init; }

    /// <summary>On the tuning families: false alarms per 1,000 healthy steps of the chosen setting.</summary>
    public double TuningFalseAlarmsPer1k { get; init; }

    /// <summary>On the tuning families: share of explosions warned within H.</summary>
    public double TuningWarnedShare { get; init; }

    /// <summary>On the tuning families: mean of the per-family AUROCs.</summary>
    public double TuningAuroc { get; init; }
}
