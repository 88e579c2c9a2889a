using System.Globalization;

namespace SpectralAlign.Scenarios.Evaluation;

/// <summary>How the evaluation by horizon runs. Defaults are the issue's.</summary>
public sealed class HorizonEvaluationSettings
{
    /// <summary>Horizons H in steps. <value>Default: 50, 100, 200.</value></summary>
    public IReadOnlyList<int> Horizons { get; init; } = HorizonLabels.Default;

    /// <summary>The operating point: the most false alarms per 1,000 healthy steps a tuned threshold may raise on the
    /// tuning families. <value>Default: 0.1.</value></summary>
    public double FalseAlarmBudget { get; init; } = 0.1;

    /// <summary>The smallest lead (E − t, steps) that counts for "warned ahead": an alarm this late leaves too little
    /// time to act. Default <c>50</c>.</summary>
    public int MinimumLead { get; init; } = 50;

    /// <summary>Bootstrap resamples per cell. <value>Default: 1,000.</value></summary>
    public int Resamples { get; init; } = 1000;

    /// <summary>The bootstrap generator's seed. <value>Default: 11.</value></summary>
    public int BootstrapSeed { get; init; } = 11;

    /// <summary>Coverage of the bootstrap intervals. <value>Default: 0.95.</value></summary>
    public double Confidence { get; init; } = 0.95;

    /// <summary>Checks every setting.</summary>
    /// <exception cref="ArgumentException">Lists every problem.</exception>
    public void Validate()
    {
        var problems = new List<string>();
        if (Horizons is null || Horizons.Count == 0)
            problems.Add("Horizons: at least one is required.");
        else if (Horizons.Any(h => h < 1))
            problems.Add($"Horizons: each must be ≥ 1 (got {string.Join(", ", Horizons)}).");
        else if (Horizons.Distinct().Count() != Horizons.Count)
            problems.Add($"Horizons: duplicates ({string.Join(", ", Horizons)}).");
        if (!(FalseAlarmBudget >= 0) || double.IsInfinity(FalseAlarmBudget))
            problems.Add(Invariant($"FalseAlarmBudget: must be finite and ≥ 0 (got {FalseAlarmBudget})."));
        if (MinimumLead < 1)
            problems.Add(Invariant($"MinimumLead: must be ≥ 1 (got {MinimumLead})."));
        if (Resamples < 1)
            problems.Add(Invariant($"Resamples: must be ≥ 1 (got {Resamples})."));
        if (!(Confidence is > 0 and < 1))
            problems.Add(Invariant($"Confidence: must be in (0, 1) (got {Confidence})."));
        if (problems.Count > 0)
            throw new ArgumentException("Invalid horizon evaluation settings:\n  " + string.Join("\n  ", problems));
    }

    private static string Invariant(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
