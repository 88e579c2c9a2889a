using SpectralAlign.Scenarios.Evaluation;

namespace SpectralAlign.Tests.Evaluation;

public sealed class HorizonLabelsTests
{
    [Theory]
    [InlineData(0L, StepLabel.Negative)]
    [InlineData(199L, StepLabel.Negative)] // E − t = 101 > H
    [InlineData(200L, StepLabel.Positive)] // E − t = 100 = H
    [InlineData(299L, StepLabel.Positive)] // E − t = 1
    [InlineData(300L, StepLabel.Excluded)] // t = E
    [InlineData(350L, StepLabel.Excluded)]
    public void Label_ExplodingRun_PositiveWithinTheHorizonBeforeE(long step, StepLabel expected) =>
        Assert.Equal(expected, HorizonLabels.Label(step, explosionStep: 300, forkStep: null, horizon: 100));

    [Theory]
    [InlineData(240L, StepLabel.Negative)] // within H of E but before the fork
    [InlineData(249L, StepLabel.Negative)]
    [InlineData(250L, StepLabel.Positive)] // the fork step itself
    [InlineData(300L, StepLabel.Excluded)]
    public void Label_Fork_StepsBeforeTheForkAreNegative(long step, StepLabel expected) =>
        Assert.Equal(expected, HorizonLabels.Label(step, explosionStep: 300, forkStep: 250, horizon: 100));

    [Theory]
    [InlineData(null)]
    [InlineData(250L)]
    public void Label_RunThatDoesNotExplode_EveryStepNegative(long? fork)
    {
        foreach (long t in new long[] { 0, 249, 250, 10_000 })
            Assert.Equal(StepLabel.Negative, HorizonLabels.Label(t, explosionStep: null, fork, horizon: 50));
    }

    [Fact]
    public void IsHealthy_FollowsTheDefinition()
    {
        Assert.True(HorizonLabels.IsHealthy(5_000, explosionStep: null, forkStep: null)); // stable run
        Assert.True(HorizonLabels.IsHealthy(900, explosionStep: null, forkStep: 800)); // fork control / survivor after the fork
        Assert.True(HorizonLabels.IsHealthy(799, explosionStep: 950, forkStep: 800)); // before the fork of a fork that explodes
        Assert.False(HorizonLabels.IsHealthy(800, explosionStep: 950, forkStep: 800));
        Assert.False(HorizonLabels.IsHealthy(10, explosionStep: 950, forkStep: null)); // early step of an exploding run: negative, not healthy
    }

    [Fact]
    public void Label_HorizonBelowOne_Throws() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => HorizonLabels.Label(1, 10, null, 0));

    [Fact]
    public void From_RecordWithForkSetting_ReadsForkExplosionAndHealthyPrefix()
    {
        var run = EvaluationRun.From(HorizonRuns.Make("fork-lr", "trigger", 3, steps: 60, explosionStep: 50, forkStep: 20));
        Assert.Equal("fork-lr", run.Family);
        Assert.Equal("fork-lr.trigger.s3", run.Name);
        Assert.Equal(50, run.ExplosionStep);
        Assert.Equal(20, run.ForkStep);
        Assert.Equal(20, run.HealthySteps);
        var labels = run.Labels(horizon: 10);
        Assert.Equal(10, labels.Count(l => l == StepLabel.Positive)); // steps 40–49
        Assert.Equal(10, labels.Count(l => l == StepLabel.Excluded)); // steps 50–59
    }

    [Fact]
    public void From_ExplosionBeforeTheFork_InvalidRecordNamingTheRun()
    {
        var ex = Assert.Throws<InvalidDataException>(() => EvaluationRun.From(HorizonRuns.Make("fork-lr", "trigger", 1, steps: 60, explosionStep: 15, forkStep: 20)));
        Assert.Contains("fork-lr.trigger.s1", ex.Message, StringComparison.Ordinal);
        Assert.Contains("explodes at step 15, before the fork at step 20", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(null, false, true)] // no end line, no explosion: neither stable nor exploding
    [InlineData(null, true, false)] // ran its planned steps: stable
    [InlineData(30L, false, false)] // exploded (the process may have died after): exploding
    public void From_RunWithoutExplosionThatDidNotFinish_IsUnfinished(long? explosion, bool finished, bool unfinished) =>
        Assert.Equal(unfinished, EvaluationRun.From(HorizonRuns.Make("lottery", "edge", 1, steps: 60, explosionStep: explosion, finished: finished)).Unfinished);
}
