namespace SpectralAlign.Scenarios.Evaluation;

/// <summary>The data of one family.</summary>
/// <param name="Family">The family (scenario).</param>
/// <param name="Runs">Runs evaluated.</param>
/// <param name="Unfinished">Runs left out because they neither exploded nor finished their planned steps.</param>
/// <param name="Seeds">Distinct seeds (the bootstrap's units).</param>
/// <param name="Exploding">Runs that explode.</param>
/// <param name="Forks">Runs with a fork step.</param>
/// <param name="Steps">Recorded steps.</param>
/// <param name="HealthySteps">Healthy steps.</param>
/// <param name="Positives">Positive steps per horizon.</param>
public sealed record FamilySummary(string Family, int Runs, int Unfinished, int Seeds, int Exploding, int Forks, long Steps, long HealthySteps, IReadOnlyDictionary<int, long> Positives);
