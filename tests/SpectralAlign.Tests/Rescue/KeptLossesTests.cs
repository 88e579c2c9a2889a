using SpectralAlign.Scenarios.Rescue;

namespace SpectralAlign.Tests.Rescue;

/// <summary>The loss series a run keeps across rollbacks, judged by the ground truth.</summary>
public sealed class KeptLossesTests
{
    private static KeptLosses Flat(int steps, double loss = 2.0)
    {
        var kept = new KeptLosses();
        for (int t = 0; t < steps; t++)
            kept.Record(t, loss);
        return kept;
    }

    [Fact]
    public void Record_ExplosionAfterSettling_ReportsItsStepOnce()
    {
        var kept = Flat(150);
        Assert.True(kept.Record(150, 4.5));     // 4.5 > 2 × 2.0
        Assert.False(kept.Record(151, 9.0));
        Assert.Equal(150, kept.ExplosionStep);
    }

    [Fact]
    public void Truncate_BeforeTheExplosion_ForgetsIt_AndTheRecomputationDecides()
    {
        var kept = Flat(150);
        kept.Record(150, 4.5);
        kept.Record(151, 9.0);
        kept.Truncate(120);                     // a rollback to the state after step 119
        Assert.Equal(120, kept.Count);
        Assert.Null(kept.ExplosionStep);
        for (int t = 120; t < 200; t++)
            Assert.False(kept.Record(t, 1.9));
        Assert.Null(kept.ExplosionStep);
        Assert.Equal(200, kept.Count);
    }

    [Fact]
    public void Record_AnEarlierStep_DiscardsEverythingFromIt()
    {
        var kept = Flat(10);
        kept.Record(4, 7.0);
        Assert.Equal(5, kept.Count);
        Assert.Equal([2.0, 2.0, 2.0, 2.0, 7.0], kept.Losses);
    }

    [Fact]
    public void Record_AGap_Throws() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => Flat(3).Record(5, 1.0));

    [Fact]
    public void Truncate_KeepsTheRunningMinimumOfTheKeptStepsOnly()
    {
        // Steps 0–149 at 2.0, 150–159 at 1.0 (new minimum), rolled back to 150: the minimum is 2.0 again, so 3.9
        // (< 2 × 2.0) is no explosion, whereas before the rollback it was (> 2 × 1.0).
        var kept = Flat(150);
        for (int t = 150; t < 160; t++)
            kept.Record(t, 1.0);
        kept.Truncate(150);
        Assert.False(kept.Record(150, 3.9));
        Assert.Null(kept.ExplosionStep);
    }

    [Fact]
    public void FinalLoss_MeanOfTheLastWindow_NaNWhenShortOrNotFinite()
    {
        var kept = new KeptLosses();
        for (int t = 0; t < 6; t++)
            kept.Record(t, t);                  // 0 1 2 3 4 5
        Assert.Equal(4.0, kept.FinalLoss(3), 12);   // (3 + 4 + 5) / 3
        Assert.True(double.IsNaN(kept.FinalLoss(7)));
        kept.Record(6, double.NaN);
        Assert.True(double.IsNaN(kept.FinalLoss(3)));
    }
}
