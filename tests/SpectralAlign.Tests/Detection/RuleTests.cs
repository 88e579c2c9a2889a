using SpectralAlign.Detection;
using static SpectralAlign.Tests.Support.Measurements;

namespace SpectralAlign.Tests.Detection;

/// <summary>The built-in layer rules, each on a hand-constructed series with hand-computed scores (no torch).</summary>
public sealed class RuleTests
{
    private const double Tolerance = 1e-9;

    [Fact]
    public void SpectralNormGrowth_GrowthOverWindow_FiresOnlyWhenWindowRatioReachesThreshold()
    {
        // σ1 = 1 until step 100, then doubles linearly by step 200; window 100 steps, threshold 1.5×.
        var detector = new CollapseDetector(Only(new SpectralNormGrowthRule { WindowSteps = 100 }));
        var series = Enumerable.Range(0, 31).Select(i => i * 10L).Select(s => M(s, sigma: s <= 100 ? 1 : 1 + (s - 100) / 100.0)).ToList();
        var alerts = Feed(detector, series);
        var alert = Assert.Single(alerts);
        // σ1(t) / σ1(t − 100) ≥ 1.5 first at t = 150: 1.5 / 1.0.
        Assert.Equal(150, alert.Step);
        Assert.Equal(AlertReasons.SpectralNormGrowth, alert.Reason);
        Assert.Contains("σ1 grew 1.50×", alert.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void StableRankDrop_FallingStableRank_Fires_RisingDoesNot()
    {
        var detector = new CollapseDetector(Only(new StableRankDropRule { WindowSteps = 50 }));
        // stable rank = F²/σ²: F = 3, σ grows from 1 to 2 → srank falls from 9 to 2.25.
        var falling = Enumerable.Range(0, 11).Select(i => M(i * 10, sigma: 1 + i / 10.0));
        var alert = Assert.Single(Feed(detector, falling));
        Assert.Equal(AlertReasons.StableRankDrop, alert.Reason);
        var rising = new CollapseDetector(Only(new StableRankDropRule { WindowSteps = 50 }));
        Assert.Empty(Feed(rising, Enumerable.Range(0, 11).Select(i => M(i * 10, sigma: 2 - i / 10.0))));
    }

    [Fact]
    public void MaxActivationGrowth_TripledWithinWindow_Fires()
    {
        var detector = new CollapseDetector(Only(new MaxActivationGrowthRule { WindowSteps = 20 }));
        var series = Enumerable.Range(0, 10).Select(i => M(i * 10, maxAbs: i < 5 ? 1 : 3)).ToList();
        var alert = Assert.Single(Feed(detector, series));
        Assert.Equal(50, alert.Step);
        // Scores: warming for the first 20 steps, then the ratio to the value 20 steps earlier.
        Assert.Equal([null, null, 1, 1, 1, 3, 3, 1, 1, 1], Scores(new MaxActivationGrowthRule { WindowSteps = 20 }, series));
    }

    [Fact]
    public void AlignedGrowth_NeedsBothOneSidednessAndGrowth()
    {
        DetectionOptions Options() => Only(new AlignedGrowthRule { WindowSteps = 50 });
        IEnumerable<LayerMeasurement> Series(bool oneSided, bool growing) =>
            Enumerable.Range(0, 20).Select(i => M(i * 10, mean: oneSided ? 0.5 : 0.02, diversity: oneSided ? 0 : 0.95, sigma: growing ? Math.Pow(1.02, i * 10) : 1));

        Assert.Empty(Feed(new CollapseDetector(Options()), Series(oneSided: true, growing: false)));
        Assert.Empty(Feed(new CollapseDetector(Options()), Series(oneSided: false, growing: true)));
        var alert = Assert.Single(Feed(new CollapseDetector(Options()), Series(oneSided: true, growing: true)));
        Assert.Equal(AlertReasons.AlignedGrowth, alert.Reason);
        // 1.02^50 = 2.69 ≥ 1.5 as soon as the window is full (step 50).
        Assert.Equal(50, alert.Step);
    }

    [Fact]
    public void AlignmentTrend_RiseOfMeanWithinWindow_Fires()
    {
        var detector = new CollapseDetector(Only(new AlignmentTrendRule { WindowSteps = 100 }));
        var series = Enumerable.Range(0, 30).Select(i => M(i * 10, mean: i < 15 ? 0.3 : 0.3 + 0.02 * (i - 14))).ToList();
        var alert = Assert.Single(Feed(detector, series));
        // |mean| − |mean|(t − 100) ≥ 0.15: 0.3 + 0.02·(i − 14) − 0.3 ≥ 0.15 at i = 22 (t = 220), when t − 100 is still flat.
        Assert.Equal(220, alert.Step);
    }

    [Fact]
    public void RollingBaseline_SlowHealthyDrift_ScoresTheLaggedDifference_StaysSilent_WhereTheFrozenBaselineFires()
    {
        // |mean SA| drifts 0.05 + 0.001·t (a healthy layer slowly becoming one-sided), D constant 0.9.
        var drift = Enumerable.Range(0, 60).Select(i => M(i * 10, mean: 0.05 + 0.001 * i * 10, diversity: 0.9)).ToList();
        var rule = new RollingBaselineRule { LagSteps = 50, WindowSteps = 100, MinBaselineMeasurements = 5 };
        var scores = Scores(rule, drift);

        // At t = 90 the window (−60, 40] first holds 5 measurements (steps 0–40): median m(20), MAD 0.01, so the scale
        // is max(6·1.4826·0.01, 0.4) = 0.4 and the score (m(90) − m(20)) / 0.4 = 0.07 / 0.4.
        Assert.All(scores.Take(9), s => Assert.Null(s));
        Assert.Equal(0.175, scores[9]!.Value, Tolerance);
        // With a full window (10 measurements, t − 140 … t − 50): median m(t − 95), MAD 0.02 → scale 0.4 → 0.095 / 0.4.
        Assert.All(scores.Skip(15), s => Assert.Equal(0.2375, s!.Value, Tolerance));
        Assert.Empty(Feed(new CollapseDetector(Only(rule)), drift));
        // The default, frozen baseline (steps 0–190) mistakes the same drift for a collapse.
        Assert.NotEmpty(Feed(new CollapseDetector(Only(new BaselineRelativeRule())), drift));
    }

    [Fact]
    public void RollingBaseline_SuddenCollapse_FiresAtOnce_TheLagKeepsItOutOfTheBaseline()
    {
        const int jumpAt = 400;
        var series = Enumerable.Range(0, 60).Select(i => i * 10L)
            .Select(t => M(t, mean: 0.05 + 0.001 * t + (t >= jumpAt ? 0.5 : 0), diversity: 0.9)).ToList();
        var rule = new RollingBaselineRule { LagSteps = 50, WindowSteps = 100, MinBaselineMeasurements = 5 };
        var scores = Scores(rule, series);
        // Until the jump enters the window (t − 50 ≥ 400), the baseline is the drift alone: (0.095 + 0.5) / 0.4.
        for (long t = jumpAt; t < jumpAt + 50; t += 10)
            Assert.Equal(1.4875, scores[(int)(t / 10)]!.Value, Tolerance);
        var alert = Assert.Single(Feed(new CollapseDetector(Only(rule)), series));
        Assert.Equal((jumpAt, AlertReasons.RollingSignCollapse), (alert.Step, alert.Reason));
        Assert.Contains("against steps 251–350", alert.Detail, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0.1, 1.0969629895494157)]   // acceleration 2c = 0.2 ≥ ln 1.2: anomalous
    [InlineData(0.05, 0.5484814947747079)]  // 0.1 < ln 1.2: not
    public void AlignedAcceleration_QuadraticLogSigma_ScoresTheSecondDifference(double curvature, double expected)
    {
        // ln σ1 = c·(t / W)² with W = 50: g₁ = c(2t/W − 1), g₀ = c(2(t − W)/W − 1) > 0, a = g₁ − g₀ = 2c at every
        // judged step; one-sidedness |mean| 0.5 / 0.2 = 2.5 > the acceleration term, so the score is 2c / ln 1.2.
        var series = Enumerable.Range(0, 30).Select(i => i * 10L).Select(t => M(t, mean: 0.5, diversity: 0.9, sigma: Math.Exp(curvature * (t / 50.0) * (t / 50.0)))).ToList();
        var scores = Scores(new AlignedAccelerationRule { WindowSteps = 50 }, series);
        Assert.All(scores.Take(10), s => Assert.Null(s));   // the history reaches back 2W = 100 steps from t = 100 on
        Assert.All(scores.Skip(10), s => Assert.Equal(expected, s!.Value, Tolerance));
        Assert.Equal(expected >= 1 ? 1 : 0, Feed(new CollapseDetector(Only(new AlignedAccelerationRule { WindowSteps = 50 })), series).Count);
    }

    [Fact]
    public void AlignedAcceleration_SteadyGrowthOrBalancedSa_StaysSilent()
    {
        var rule = new AlignedAccelerationRule { WindowSteps = 50 };
        // One-sided, σ1 growing exponentially at a constant rate: g₁ = g₀, no acceleration.
        var steady = Enumerable.Range(0, 30).Select(i => M(i * 10, mean: 0.5, sigma: Math.Exp(0.01 * i * 10))).ToList();
        Assert.All(Scores(rule, steady).Skip(10), s => Assert.Equal(0, s!.Value, Tolerance));
        // Accelerating σ1 but balanced SA (|mean| 0.02, D 0.95): one-sidedness max(0.1, 0.0556) = 0.1 caps the score.
        var balanced = Enumerable.Range(0, 30).Select(i => i * 10L).Select(t => M(t, mean: 0.02, diversity: 0.95, sigma: Math.Exp(0.5 * (t / 50.0) * (t / 50.0)))).ToList();
        Assert.All(Scores(rule, balanced).Skip(10), s => Assert.Equal(0.1, s!.Value, Tolerance));
        Assert.Empty(Feed(new CollapseDetector(Only(rule)), steady.Concat(balanced.Select(m => M(m.Step + 300, mean: 0.02, diversity: 0.95, sigma: m.SpectralNorm)))));
    }

    [Theory]
    [InlineData(1.0, 1.2, 1.44, 0)]                       // steady growth ×1.2 per window
    [InlineData(1.0, 1.0, 1.3, 0.26236426446749106)]      // flat, then ×1.3: ln 1.3
    [InlineData(1.35, 1.0, 0.9, -0.10536051565782628)]    // shrinking more slowly is not growth: ln 0.9
    [InlineData(1.0, 1.1, 1.331, 0.09531017980432493)]    // ×1.1 then ×1.21: ln 1.1
    public void AlignedAcceleration_Acceleration_IsGrowthBeyondThePreviousWindowsGrowth(double twoAgo, double oneAgo, double now, double expected) =>
        Assert.Equal(expected, AlignedAccelerationRule.Acceleration(now, oneAgo, twoAgo), Tolerance);
}
