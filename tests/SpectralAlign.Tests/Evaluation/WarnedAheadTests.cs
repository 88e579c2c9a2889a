using SpectralAlign.Scenarios.Analysis;
using SpectralAlign.Scenarios.Evaluation;

namespace SpectralAlign.Tests.Evaluation;

public sealed class WarnedAheadTests
{
    private const int Steps = 400, E = 350;

    [Theory]
    [InlineData(300, true)] // E − t = 50: exactly the minimum lead
    [InlineData(301, false)] // 49 steps ahead: warned within H, but too late
    [InlineData(240, false)] // 110 steps ahead: before the horizon of 100
    public void WarnedAhead_SingleActiveStep_CountsOnlyPositiveStepsAtLeastTheMinimumLeadAhead(int activeStep, bool expected)
    {
        var run = HorizonRuns.Facts("f", 1, Steps, explosionStep: E);
        var active = Enumerable.Range(0, Steps).Select(t => t == activeStep).ToArray();

        Assert.Equal(expected, Alarms.WarnedAhead(run, active, run.Labels(100), minimumLead: 50));
    }

    [Fact]
    public void WarnedAhead_StableRun_IsFalse()
    {
        var run = HorizonRuns.Facts("f", 1, Steps);
        Assert.False(Alarms.WarnedAhead(run, Enumerable.Repeat(true, Steps).ToArray(), run.Labels(100), 50));
    }

    [Fact]
    public void Compute_TwoExplosionsOneEarlyEnough_WarnedAheadShareIsOneHalf()
    {
        // Both runs warned within H = 100; run 1 from E − 80 (ahead), run 2 only from E − 20 (not ahead).
        var runs = new[] { HorizonRuns.Facts("f", 1, Steps, explosionStep: E), HorizonRuns.Facts("f", 2, Steps, explosionStep: E) };
        int[] from = [E - 80, E - 20];
        var active = runs.Select((r, i) => Enumerable.Range(0, Steps).Select(t => t >= from[i]).ToArray()).ToArray();
        var scores = runs.Select(_ => new double[Steps]).ToArray();
        var labels = runs.Select(r => r.Labels(100)).ToArray();

        var cell = FamilyMetrics.Compute(runs, scores, labels, active, 100, new HorizonEvaluationSettings { Horizons = [100], Resamples = 50 });

        Assert.Equal((2, 1, 2), (cell.Warned, cell.WarnedAhead, cell.Explosions));
        Assert.Equal(1.0, cell.WarnedShare.Value);
        Assert.Equal(0.5, cell.WarnedAheadShare.Value);
    }

    [Fact]
    public void Evaluate_ChoiceOnEveryFamily_PrefersTheSettingThatWarnsAhead()
    {
        // Two families, each with a stable and an exploding run. "late" is on from E − 20 and "early" from E − 80 in the
        // exploding runs; neither alarms in the stable runs. Both warn every explosion within H, only "early" at least
        // 50 steps ahead, so it is chosen — left out and on every family — although "late" is listed first.
        RunData[] runs = [.. from f in new[] { "A", "B" } from config in new[] { "stable", "exploding" }
            select HorizonRuns.Make(f, config, 1, Steps, explosionStep: config == "exploding" ? E : null)];
        DetectorSetting From(string name, int lead) => new(name, run => new ScoreSeries(
            new double[run.Steps.Count],
            run.Steps.Select(s => run.Header.Config == "exploding" && s.Step >= E - lead).ToArray()));
        var detector = new HorizonDetector("d", "SA", [From("late", 20), From("early", 80)]);

        var result = LeaveOneFamilyOut.Evaluate(runs, [detector], new HorizonEvaluationSettings { Horizons = [100], Resamples = 50 });

        Assert.Equal("early", result.Cell(100, "d", "A").Setting);
        Assert.Equal("early", result.Cell(100, "d", "B").Setting);
        var choice = Assert.Single(result.Choices);
        Assert.Equal(("d", 100, "early"), (choice.Detector, choice.Horizon, choice.Setting));
        Assert.Equal(0, choice.FalseAlarmsPer1k);
        Assert.Equal(1.0, choice.WarnedShare);
    }
}
