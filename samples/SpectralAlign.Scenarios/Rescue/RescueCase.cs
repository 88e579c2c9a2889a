namespace SpectralAlign.Scenarios.Rescue;

/// <summary>One run of the rescue evaluation before any arm is applied: a scenario configuration, a seed and the
/// overrides laid over it, plus the stable configuration the arms' final losses are compared with.</summary>
/// <param name="Scenario">The scenario's name (<see cref="ScenarioCatalog"/>).</param>
/// <param name="Config">Its configuration.</param>
/// <param name="Seed">The run's seed.</param>
/// <param name="Overrides">key=value overrides (empty for the configuration as shipped).</param>
/// <param name="Reference">The stable configuration of the same seed (its <see cref="RescueArmKind.None"/> run is this
/// case's <see cref="RescueArmKind.StableConfiguration"/> arm), or null when this case is itself a reference.</param>
public sealed record RescueCase(string Scenario, string Config, int Seed, IReadOnlyList<KeyValuePair<string, string>> Overrides, RescueCase? Reference)
{
    /// <summary>The configuration with its overrides, e.g. <c>edge</c> or <c>edge,lr=1.2e-2</c>.</summary>
    public string Label => Overrides.Count == 0 ? Config : Config + "," + string.Join(",", Overrides.Select(kv => $"{kv.Key}={kv.Value}"));

    /// <summary>The family in the table: scenario and configuration.</summary>
    public string Family => $"{Scenario}/{Config}";

    /// <summary>The file name of one arm's result on this case.</summary>
    /// <param name="arm">The arm.</param>
    /// <returns><c>{scenario}.{label}.s{seed}.{arm}.json</c>, with <c>=</c> and <c>,</c> kept.</returns>
    public string ResultFileName(RescueArmKind arm) => $"{Scenario}.{Label}.s{Seed}.{RescueArms.Name(arm)}.json";
}
