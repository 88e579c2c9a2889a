namespace SpectralAlign.Scenarios;

/// <summary>All scenarios of the suite.</summary>
public static class ScenarioCatalog
{
    /// <summary>The scenarios, in the order they are listed.</summary>
    public static IReadOnlyList<Scenario> All { get; } =
    [
        new GptLearningRateScenario(),
        new MlpLearningRateScenario(),
        new GptNormalisationScenario(),
        new LotteryScenario(),
        new ForkScenario(),
        new AttentionLogitScenario(),
    ];

    /// <summary>A scenario by name.</summary>
    /// <param name="name">Its name.</param>
    /// <returns>The scenario.</returns>
    /// <exception cref="ArgumentException">Unknown name.</exception>
    public static Scenario Get(string name) =>
        All.FirstOrDefault(s => s.Name == name)
        ?? throw new ArgumentException($"Unknown scenario '{name}' (known: {string.Join(", ", All.Select(s => s.Name))}).", nameof(name));
}
