using SpectralAlign.Scenarios;

namespace SpectralAlign.Tests.ScenarioSuite;

/// <summary>The ground truth of the new families, on hand-made loss series.</summary>
public sealed class GroundTruthTests
{
    /// <summary>2.0 for 200 steps, then <paramref name="spike"/> at step <paramref name="at"/> (if any) and 2.0 again.</summary>
    private static double[] Series(int at, double spike)
    {
        var losses = Enumerable.Repeat(2.0, 200).ToArray();
        if (at >= 0)
            losses[at] = spike;
        return losses;
    }

    [Theory]
    [InlineData(150, 4.5, 150)]   // doubling after the fork: E = 150
    [InlineData(150, 3.9, null)]  // below 2 × the running minimum: no explosion
    [InlineData(120, double.NaN, 120)]
    [InlineData(-1, 0, null)]
    public void FindForkExplosionStep_AfterTheFork_IsTheFirstStepMeetingTheRule(int at, double spike, int? expected) =>
        Assert.Equal((long?)expected, GroundTruth.FindForkExplosionStep(Series(at, spike), forkStep: 100));

    [Fact]
    public void FindForkExplosionStep_ExplosionBeforeTheFork_ThrowsBecauseTheBaseIsUnhealthy()
    {
        var ex = Assert.Throws<InvalidDataException>(() => GroundTruth.FindForkExplosionStep(Series(105, 5), forkStep: 150));
        Assert.Contains("105", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(null, 1000, 1000, true)]
    [InlineData(null, 400, 1000, false)]  // stopped early for another reason
    [InlineData(600L, 1000, 1000, false)]
    public void IsStableRun_BudgetAndExplosion_Decide(long? explosion, long run, long planned, bool expected) =>
        Assert.Equal(expected, GroundTruth.IsStableRun(explosion, run, planned));
}
