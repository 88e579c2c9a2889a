using SpectralAlign.Scenarios.Evaluation;

namespace SpectralAlign.Tests.Evaluation;

public sealed class AlarmsTests
{
    //                                      0  1  2  3  4  5  6  7           8
    private static readonly double[] Scores = [0, 2, 2, 0, 2, 2, 2, double.NaN, 3];

    [Fact]
    public void Active_PersistenceTwo_NeedsTwoConsecutiveStepsAtOrAboveTheThreshold()
    {
        bool[] expected = [false, false, true, false, false, true, true, false, false];
        Assert.Equal(expected, Alarms.Active(Scores, threshold: 2, persistence: 2));
        Assert.Equal(Scores.Select(s => s >= 2).ToArray(), Alarms.Active(Scores, 2, 1));
        Assert.All(Alarms.Active(Scores, double.NaN, 1), a => Assert.False(a));
    }

    [Fact]
    public void Onsets_CountsEpisodesWithinTheHealthyPrefix()
    {
        var active = Alarms.Active(Scores, 2, 2);
        Assert.Equal(2, Alarms.Onsets(active, 9));
        Assert.Equal(1, Alarms.Onsets(active, 5));
        Assert.Equal(0, Alarms.Onsets(active, 0));
        Assert.Equal(3, Alarms.Onsets(Alarms.Active(Scores, 2, 1), 9)); // k = 1: episodes 1–2, 4–6 and 8 (the NaN ends one)
    }

    [Fact]
    public void Warned_OnlyAnActivePositiveStepCounts()
    {
        var active = Alarms.Active(Scores, 2, 2); // active at 2, 5, 6
        var labels = Enumerable.Repeat(StepLabel.Negative, 9).ToArray();
        labels[7] = StepLabel.Positive;
        Assert.False(Alarms.Warned(active, labels));
        labels[6] = StepLabel.Positive;
        Assert.True(Alarms.Warned(active, labels));
    }

    [Fact]
    public void Lead_CountsFromTheSettlingPeriodOrTheFork()
    {
        var active = Alarms.Active(Scores, 2, 2); // active at indices 2, 5, 6
        // Steps 100–108, E = 108: the first judged step is 100, the first active step 102.
        Assert.Equal(6, Alarms.Lead(HorizonRuns.Facts("f", 1, 9, explosionStep: 108, firstStep: 100), active));
        // Fork at 103: the alarm at 102 is before the fork; the first one after it is at 105.
        Assert.Equal(3, Alarms.Lead(HorizonRuns.Facts("f", 1, 9, explosionStep: 108, forkStep: 103, firstStep: 100), active));
        // Steps 0–8: all inside the settling period of 100 steps, so no lead.
        Assert.Null(Alarms.Lead(HorizonRuns.Facts("f", 1, 9, explosionStep: 8), active));
        // E = 105: only alarms before E count.
        Assert.Equal(3, Alarms.Lead(HorizonRuns.Facts("f", 1, 9, explosionStep: 105, firstStep: 100), active));
        Assert.Null(Alarms.Lead(HorizonRuns.Facts("f", 1, 9, explosionStep: 102, firstStep: 100), active));
        // A run that does not explode has no lead.
        Assert.Null(Alarms.Lead(HorizonRuns.Facts("f", 1, 9, firstStep: 100), active));
    }
}
