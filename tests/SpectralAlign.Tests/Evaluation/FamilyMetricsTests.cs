using SpectralAlign.Scenarios.Evaluation;

namespace SpectralAlign.Tests.Evaluation;

public sealed class FamilyMetricsTests
{
    private const int H = 3;

    // A family with one seed: a stable run S (steps 0–9) and a fork X (steps 0–9, fork at 2, explosion at 8).
    // Labels at H = 3: X's steps 5, 6, 7 are positive, 0–4 negative, 8–9 excluded; all of S is negative.
    // Healthy steps: S's 10 and X's 2 before the fork.
    private static readonly EvaluationRun S = HorizonRuns.Facts("fam", 1, 10);
    private static readonly EvaluationRun X = HorizonRuns.Facts("fam", 1, 10, explosionStep: 8, forkStep: 2);
    private static readonly double[] ScoresS = [0, 0, 0, 2, 0, 0, 0, 0, 0, 0];
    private static readonly double[] ScoresX = [0, 0, 0, 0, 0, 1, 2, 3, double.NaN, double.NaN];

    private static HorizonCell Compute(bool alarmed)
    {
        var active = alarmed ? new[] { Alarms.Active(ScoresS, 1.5, 1), Alarms.Active(ScoresX, 1.5, 1) } : null;
        return FamilyMetrics.Compute([S, X], [ScoresS, ScoresX], [S.Labels(H), X.Labels(H)], active, H, new HorizonEvaluationSettings { Resamples = 200 });
    }

    [Fact]
    public void Compute_HandComputedFamily_EveryMetric()
    {
        var c = Compute(alarmed: true);
        Assert.Equal(3, c.Positives);
        Assert.Equal(15, c.Negatives); // 14 zeros and S's 2
        Assert.Equal(12, c.HealthySteps);

        // AUROC over 3 × 15 pairs: 1 beats the 14 zeros (14), 2 beats them and ties S's 2 (14.5), 3 beats all (15).
        Assert.Equal(43.5 / 45, c.Auroc.Value, 12);
        // AP: 3 → recall 1/3 at precision 1; 2 (with S's 2) → 2/3 at 2/3; 1 → 1 at 3/4: 1/3 + 2/9 + 1/4.
        Assert.Equal(1.0 / 3 + 2.0 / 9 + 1.0 / 4, c.AveragePrecision.Value, 12);
        // θ = 1.5: S's step 3 is one false alarm over 12 healthy steps (X's pre-fork steps score 0).
        Assert.Equal(1, c.FalseAlarms);
        Assert.Equal(1000.0 / 12, c.FalseAlarmsPer1k.Value, 9);
        // X is active at 6 and 7 (positive): warned; the first active step from the fork on is 6: lead 8 − 6 = 2.
        Assert.Equal((1, 1), (c.Warned, c.Explosions));
        Assert.Equal(1.0, c.WarnedShare.Value);
        Assert.Equal(1, c.Leads);
        Assert.Equal(2.0, c.MedianLead.Value);

        // One seed: every resample is the data itself, so every interval is the point.
        foreach (var m in new[] { c.Auroc, c.AveragePrecision, c.FalseAlarmsPer1k, c.WarnedShare, c.MedianLead })
            Assert.Equal(new MetricEstimate(m.Value, m.Value, m.Value), m);
    }

    [Fact]
    public void Compute_NoAlarm_AlarmMetricsUndefined_RankMetricsStillDefined()
    {
        var c = Compute(alarmed: false);
        Assert.Equal(43.5 / 45, c.Auroc.Value, 12);
        Assert.True(double.IsNaN(c.FalseAlarmsPer1k.Value));
        Assert.True(double.IsNaN(c.WarnedShare.Value));
        Assert.True(double.IsNaN(c.MedianLead.Value));
    }

    [Fact]
    public void Compute_NoPositivesAndNoHealthySteps_Undefined()
    {
        // One exploding run, not forked, exploding at step 0: every step is excluded and none is healthy.
        var run = HorizonRuns.Facts("fam", 1, 5, explosionStep: 0);
        double[] scores = [1, 1, 1, 1, 1];
        var c = FamilyMetrics.Compute([run], [scores], [run.Labels(H)], [Alarms.Active(scores, 0.5, 1)], H, new HorizonEvaluationSettings { Resamples = 50 });
        Assert.Equal((0, 0, 0), (c.Positives, c.Negatives, c.HealthySteps));
        Assert.True(double.IsNaN(c.Auroc.Value));
        Assert.True(double.IsNaN(c.AveragePrecision.Value));
        Assert.True(double.IsNaN(c.FalseAlarmsPer1k.Value));
        Assert.True(double.IsNaN(c.WarnedShare.Value));
        Assert.Equal(0, c.Explosions);
    }

    [Fact]
    public void Clusters_NumbersSeedsInOrderOfAppearance() =>
        Assert.Equal([0, 1, 0, 2], FamilyMetrics.Clusters([HorizonRuns.Facts("f", 7, 1), HorizonRuns.Facts("f", 3, 1), HorizonRuns.Facts("f", 7, 1), HorizonRuns.Facts("f", 1, 1)]));
}
