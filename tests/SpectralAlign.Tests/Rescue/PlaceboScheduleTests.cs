using SpectralAlign.Scenarios.Rescue;

namespace SpectralAlign.Tests.Rescue;

/// <summary>The placebo's random intervention steps.</summary>
public sealed class PlaceboScheduleTests
{
    [Theory]
    [InlineData(0, 100, 1000, 21)]
    [InlineData(1, 100, 1000, 21)]
    [InlineData(5, 100, 1200, 21)]
    [InlineData(10, 0, 200, 21)]   // 10 steps 21 apart need 190 of the 200: tight but admissible
    [InlineData(7, 5, 12, 1)]      // every admissible step is taken
    public void Draw_AnyAdmissibleRequest_GivesCountAscendingStepsInRangeAtLeastGapApart(int count, long from, long to, int gap)
    {
        for (int seed = 1; seed <= 50; seed++)
        {
            var steps = PlaceboSchedule.Draw(count, from, to, gap, seed);
            Assert.Equal(count, steps.Length);
            Assert.All(steps, s => Assert.InRange(s, from, to - 1));
            for (int i = 1; i < steps.Length; i++)
                Assert.True(steps[i] - steps[i - 1] >= gap, $"seed {seed}: {steps[i - 1]} and {steps[i]} are closer than {gap}");
        }
    }

    [Fact]
    public void Draw_AllStepsAdmissible_TakesEveryStep() =>
        Assert.Equal([5L, 6, 7, 8, 9, 10, 11], PlaceboSchedule.Draw(7, 5, 12, 1, seed: 3));

    [Fact]
    public void Draw_TightGap_SpacesTheStepsExactly() =>
        // 3 steps at least 10 apart in [0, 21): only {0, 10, 20} fits.
        Assert.Equal([0L, 10, 20], PlaceboSchedule.Draw(3, 0, 21, 10, seed: 9));

    [Fact]
    public void Draw_SameSeed_SameSteps_OtherSeed_OtherSteps()
    {
        Assert.Equal(PlaceboSchedule.Draw(4, 100, 1000, 21, 17), PlaceboSchedule.Draw(4, 100, 1000, 21, 17));
        Assert.NotEqual(PlaceboSchedule.Draw(4, 100, 1000, 21, 17), PlaceboSchedule.Draw(4, 100, 1000, 21, 18));
    }

    [Fact]
    public void Draw_OneStep_IsUniformOverTheRange()
    {
        // 4,000 draws of one step from [0, 4): each value about 1,000 times (binomial sd ≈ 27; tolerance 5 sd).
        var counts = new int[4];
        for (int seed = 0; seed < 4000; seed++)
            counts[PlaceboSchedule.Draw(1, 0, 4, 1, seed)[0]]++;
        Assert.All(counts, c => Assert.InRange(c, 865, 1135));
    }

    [Theory]
    [InlineData(-1, 0, 100, 1)]
    [InlineData(1, 0, 100, 0)]
    [InlineData(6, 0, 100, 21)]    // 6 steps 21 apart need 106 steps
    [InlineData(1, 10, 10, 1)]     // empty range
    public void Draw_ImpossibleRequest_Throws(int count, long from, long to, int gap) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => PlaceboSchedule.Draw(count, from, to, gap, 1));
}
