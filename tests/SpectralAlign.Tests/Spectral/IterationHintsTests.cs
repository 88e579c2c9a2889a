using SpectralAlign.Spectral;

namespace SpectralAlign.Tests.Spectral;

/// <summary>The warm-iteration plan (<see cref="IterationHints"/>) against hand-worked cases, with the defaults
/// PowerIterations = 2, MaxWarmIterations = 8, ResidualTolerance = 1e-3 (so halving below 1e-3 / 64 ≈ 1.56e-5 and
/// dropping by one below 2.5e-4).</summary>
public sealed class IterationHintsTests
{
    private static readonly EngineSettings Defaults = new SpectralMonitorOptions().ToEngineSettings();

    [Theory]
    [InlineData(0, 2, 8, 1e-9, 8)]      // iterated on within the step (cold start): at least 4·2, at most 8
    [InlineData(3, 3, 20, 1e-2, 8)]
    [InlineData(2, 2, 2, 2e-3, 4)]      // above the tolerance: twice the steps it had
    [InlineData(6, 6, 6, 5e-3, 8)]      // … capped at 8
    [InlineData(8, 8, 8, 1e-7, 4)]      // far below (< 1.56e-5): halved
    [InlineData(7, 7, 7, 1e-6, 3)]
    [InlineData(3, 3, 3, 1e-8, 2)]      // … never below PowerIterations
    [InlineData(8, 8, 8, 1e-4, 7)]      // comfortably below (< 2.5e-4, ≥ 1.56e-5): one fewer
    [InlineData(8, 8, 8, 1.6e-5, 7)]
    [InlineData(2, 2, 2, 1e-4, 2)]
    [InlineData(5, 5, 5, 5e-4, 5)]      // between a quarter of the tolerance and the tolerance: unchanged
    [InlineData(0, 2, 2, 5e-4, 0)]      // … also an unset plan (the minimum applies when it is read)
    [InlineData(0, 2, 2, 1e-7, 2)]
    public void Next_Residual_PlansAsDocumented(int hint, int planned, int done, double residual, int expected) =>
        Assert.Equal(expected, IterationHints.Next(hint, planned, done, residual, Defaults));

    /// <summary>The margin is read from the settings: with a tolerance of 1e-2, 1e-4 is far below it (halved), and
    /// with one of 1e-5 the same residual is above it (doubled).</summary>
    [Theory]
    [InlineData(1e-2, 4)]
    [InlineData(1e-5, 8)]
    public void Next_OtherTolerance_ScalesTheBands(double tolerance, int expected) =>
        Assert.Equal(expected, IterationHints.Next(8, 8, 8, 1e-4, Defaults with { ResidualTolerance = tolerance }));
}
