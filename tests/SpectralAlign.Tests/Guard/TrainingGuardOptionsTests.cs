namespace SpectralAlign.Tests.Guard;

public sealed class TrainingGuardOptionsTests
{
    [Fact]
    public void Defaults_ArePinned()
    {
        var o = new TrainingGuardOptions();

        Assert.Equal(50, o.SnapshotInterval);
        Assert.Equal(4, o.SnapshotCount);
        Assert.Equal(SnapshotLocation.Host, o.SnapshotLocation);
        Assert.True(o.ActOnAlerts);
        Assert.True(o.ActOnNonFiniteLoss);
        Assert.True(o.DetectLossSpikes);
        Assert.Equal(50, o.LossSpikeWindow);
        Assert.Equal(2, o.LossSpikeFactor);
        Assert.Equal(6, o.LossSpikeDeviations);
        Assert.True(o.Rollback);
        Assert.Equal(50, o.RollbackMargin);
        Assert.Equal(0.5, o.LearningRateFactor);
        Assert.Equal(1.0 / 64, o.MinLearningRateScale);
        Assert.Equal(100, o.LearningRateHoldSteps);
        Assert.Equal(400, o.LearningRateRecoverySteps);
        Assert.Equal(SpectralCorrection.None, o.Correction);
        Assert.True(o.CorrectAttentionPartner);
        Assert.False(o.CorrectAllOnRunTrigger);
        Assert.Equal(MomentPolicy.Keep, o.Moments);
        Assert.Equal(0.1, o.MomentScale);
        Assert.Equal(4, o.SmoothingRank);
        Assert.Equal(SmoothingTarget.NextSingularValue, o.SmoothingTarget);
        Assert.Equal(1, o.SmoothingStrength);
        Assert.Equal(1, o.MatrixSignMix);
        Assert.Equal(SpectralCorrection.None, o.ScheduledCorrection);
        Assert.Equal(100, o.ScheduleInterval);
        Assert.Equal(5, o.MaxInterventions);
        Assert.Equal(20, o.CooldownSteps);
        Assert.Equal(100, o.QuietSteps);
        Assert.Empty(o.Validate());
    }

    [Fact]
    public void Validate_ListsEveryProblem()
    {
        var o = new TrainingGuardOptions
        {
            SnapshotInterval = 0,
            SnapshotCount = 0,
            LossSpikeWindow = 2,
            LossSpikeFactor = 1,
            LearningRateFactor = 1.5,
            MinLearningRateScale = 0,
            SmoothingRank = 0,
            SmoothingStrength = 0,
            MatrixSignMix = 2,
            ScheduledCorrection = SpectralCorrection.Rank1,
            MomentScale = -1,
            MaxInterventions = -1,
        };

        var problems = o.Validate();

        Assert.Equal(12, problems.Count);
        Assert.Contains("SnapshotInterval must be >= 1 (was 0).", problems);
        Assert.Contains("ScheduledCorrection must be None, Smooth or MatrixSign (was Rank1).", problems);
        Assert.Contains("LearningRateFactor must be in (0, 1] (was 1.5).", problems);
    }

    [Fact]
    public void Clone_IsIndependent()
    {
        var o = new TrainingGuardOptions { SnapshotInterval = 7 };
        var c = o.Clone();
        o.SnapshotInterval = 9;

        Assert.Equal(7, c.SnapshotInterval);
    }
}
