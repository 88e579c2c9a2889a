namespace SpectralAlign.Detection;

/// <summary>
/// A run-level rule (loss, gradient norm): scores every step's <see cref="TrainingSignals"/> and calls it anomalous
/// when the score reaches <see cref="Threshold"/> (or a calibrated threshold). Its alerts carry the layer name
/// <see cref="CollapseAlert.RunLayer"/>. Add run rules to <see cref="DetectionOptions.RunRules"/>.
/// </summary>
public abstract class ScoredRunRule
{
    /// <summary>The <see cref="CollapseAlert.Reason"/> of this rule's alerts; distinct per rule.</summary>
    public abstract string Reason { get; }

    /// <summary>The score at or above which a step is anomalous. Each rule documents its default.</summary>
    public abstract double Threshold { get; set; }

    /// <summary>Creates the rule's scoring state for one run.</summary>
    /// <returns>A new scorer.</returns>
    public abstract IRunScorer CreateScorer();

    /// <summary>Lists every problem with this rule's settings.</summary>
    /// <returns>The problems, one sentence each.</returns>
    public virtual IEnumerable<string> Validate()
    {
        if (double.IsNaN(Threshold))
            yield return "Threshold must be a number.";
    }
}
