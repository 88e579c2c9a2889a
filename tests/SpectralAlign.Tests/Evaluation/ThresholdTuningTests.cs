using SpectralAlign.Scenarios.Evaluation;

namespace SpectralAlign.Tests.Evaluation;

public sealed class ThresholdTuningTests
{
    // Two healthy prefixes, 9 healthy steps. False alarms (runs of ≥ k steps at or above θ) by hand:
    //   θ:      >6  6  5  4  3  2  1  0
    //   k = 1:   0  1  3  4  4  3  3  3   (not monotone: lower thresholds merge episodes)
    //   k = 2:   0  0  0  0  1  1  1  2
    private static readonly IReadOnlyList<double>[] Healthy = [[1, 5, 2, 5, 3], [4, 0, double.NaN, 6]];

    [Theory]
    [InlineData(1, 0.0, 6.000000000000001, 0)] // nothing may alarm: just above the highest healthy score
    [InlineData(1, 1000.0 / 9, 6, 1)] // one alarm allowed
    [InlineData(1, 3000.0 / 9, 0, 3)] // three allowed: θ = 0 (3), although θ = 4 and 3 raise four
    [InlineData(2, 1000.0 / 9, 1, 1)]
    [InlineData(2, 2000.0 / 9, 0, 2)]
    public void Choose_HandComputedExample_LowestThresholdWithinTheBudget(int persistence, double budget, double expected, int alarms)
    {
        var tuned = ThresholdTuning.Choose(Healthy, persistence, budget);
        Assert.Equal(expected, tuned.Threshold);
        Assert.Equal(alarms, tuned.FalseAlarms);
        Assert.Equal(9, tuned.HealthySteps);
        Assert.Equal(1000.0 * alarms / 9, tuned.FalseAlarmsPer1k, 12);
    }

    [Fact]
    public void Choose_NoHealthySteps_NoThreshold()
    {
        var tuned = ThresholdTuning.Choose([], 1, 0.1);
        Assert.True(double.IsNaN(tuned.Threshold));
        Assert.Equal(0, tuned.HealthySteps);
        Assert.True(double.IsNaN(tuned.FalseAlarmsPer1k));
    }

    [Fact]
    public void Choose_NoHealthyStepWithAScore_NoThreshold() =>
        Assert.True(double.IsNaN(ThresholdTuning.Choose([[double.NaN, double.NaN]], 1, 0.1).Threshold));

    [Fact]
    public void Choose_InfiniteHealthyScoreAndNoAlarmAllowed_NoThreshold() =>
        Assert.True(double.IsNaN(ThresholdTuning.Choose([[1, double.PositiveInfinity]], 1, 0).Threshold));

    [Theory]
    [InlineData(1, 1, 0.5)]
    [InlineData(2, 3, 2.0)]
    [InlineData(3, 5, 10.0)]
    [InlineData(4, 1, 40.0)]
    public void Choose_RandomRuns_MatchesScanningEveryCandidateWithTheAlarmDefinition(int seed, int persistence, double budget)
    {
        var random = new Random(seed);
        var runs = Enumerable.Range(0, 6)
            .Select(_ => (IReadOnlyList<double>)Enumerable.Range(0, random.Next(0, 300)).Select(_ => random.Next(10) == 0 ? double.NaN : random.Next(40) / 8.0).ToArray())
            .ToArray();
        long healthy = runs.Sum(r => (long)r.Count);
        int Alarms(double theta) => runs.Sum(r => Scenarios.Evaluation.Alarms.Onsets(Scenarios.Evaluation.Alarms.Active(r, theta, persistence), r.Count));

        // Reference: every distinct healthy score, and just above the highest; keep the lowest within the budget.
        var candidates = runs.SelectMany(r => r).Where(s => !double.IsNaN(s)).Distinct().OrderDescending().ToList();
        double expected = Math.BitIncrement(candidates[0]);
        foreach (double theta in candidates)
        {
            if (1000.0 * Alarms(theta) <= budget * healthy)
                expected = theta;
        }

        var tuned = ThresholdTuning.Choose(runs, persistence, budget);
        Assert.Equal(expected, tuned.Threshold);
        Assert.Equal(Alarms(expected), tuned.FalseAlarms);
    }
}
