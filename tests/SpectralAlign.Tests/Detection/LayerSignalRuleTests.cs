using SpectralAlign.Detection;
using static SpectralAlign.Tests.Support.Measurements;

namespace SpectralAlign.Tests.Detection;

/// <summary>The layer rules on the engine's newer statistics (centred SA, update-to-weight ratio), each on a
/// hand-constructed series with hand-computed scores (no torch).</summary>
public sealed class LayerSignalRuleTests
{
    private const double Tolerance = 1e-12;

    [Fact]
    public void CenteredSignCollapse_OneSidedOnlyThroughTheBatchMean_StaysSilent_WhereTheAbsoluteRuleFires()
    {
        // Uncentred SA one-sided (|mean| 0.9, D 0): the batch mean along v1. Centred: |mean| 0.02, D 0.95.
        var meanDriven = M(0, mean: 0.9, diversity: 0, centered: Distribution(-0.02, 0.95));
        // max(0.02 / 0.2, (1 − 0.95) / (1 − 0.1)) = max(0.1, 0.0556) = 0.1.
        Assert.Equal(0.1, Scores(new CenteredSignCollapseRule(), [meanDriven])[0]!.Value, Tolerance);
        Assert.Empty(Feed(new CollapseDetector(Only(new CenteredSignCollapseRule())), [meanDriven]));
        Assert.Single(Feed(new CollapseDetector(Only(new AbsoluteSignCollapseRule())), [meanDriven]));
    }

    [Theory]
    [InlineData(-0.3, 0.5, 0.2, 0.1, 1.5)]                     // |mean| 0.3 / 0.2
    [InlineData(0.1, 0.05, 0.2, 0.1, 1.0555555555555556)]      // (1 − 0.05) / 0.9
    [InlineData(0.1, 0.5, 0.4, 0.5, 1.0)]                      // custom thresholds: max(0.25, 0.5 / 0.5)
    public void CenteredSignCollapse_ScoresTheCentredDistribution(double mean, double diversity, double meanThreshold, double diversityThreshold, double expected)
    {
        var rule = new CenteredSignCollapseRule { MeanThreshold = meanThreshold, DiversityThreshold = diversityThreshold };
        // The uncentred statistics are balanced: only the centred ones can make the score.
        var m = M(0, mean: 0.01, diversity: 1, centered: Distribution(mean, diversity));
        Assert.Equal(expected, Scores(rule, [m])[0]!.Value, Tolerance);
        var alert = Assert.Single(Feed(new CollapseDetector(Only(rule)), [m]));
        Assert.Equal(AlertReasons.CenteredSignCollapse, alert.Reason);
        Assert.Contains("centred alignment one-sided", alert.Detail, StringComparison.Ordinal);
    }

    public static TheoryData<string, SpectralAlignmentStats> CenteredDegenerate => new()
    {
        { "no centred statistics (recorded before the engine measured them)", SpectralAlignmentStats.Empty },
        { "NaN mean", Distribution(double.NaN, 0.5) },
        { "NaN diversity", Distribution(0.01, double.NaN) },
    };

    [Theory]
    [MemberData(nameof(CenteredDegenerate))]
    public void CenteredSignCollapse_Degenerate_NotJudged(string why, SpectralAlignmentStats centered)
    {
        var series = Enumerable.Range(0, 5).Select(i => M(i * 10, mean: 0.9, diversity: 0, centered: centered)).ToList();
        Assert.True(Scores(new CenteredSignCollapseRule(), series).All(s => s is null), why);
        Assert.Empty(Feed(new CollapseDetector(Only(new CenteredSignCollapseRule())), series));
    }

    [Fact]
    public void UpdateRatio_JumpOverTheWindowMedian_HandComputed()
    {
        // Ratios (×1e-3) at steps 0, 10, …: 1 2 3 4 5, then 9, 2. Window 50 steps, 5 ratios needed.
        double[] ratios = [1, 2, 3, 4, 5, 9, 2];
        var series = ratios.Select((r, i) => M(i * 10, updateRatio: r * 1e-3)).ToList();
        var rule = new UpdateRatioRule { WindowSteps = 50, MinMeasurements = 5 };
        var scores = Scores(rule, series);
        // Steps 0–40: fewer than 5 ratios at steps [t − 50, t).
        Assert.All(scores.Take(5), s => Assert.Null(s));
        Assert.Equal(3.0, scores[5]!.Value, Tolerance);   // step 50: 9 / median{1,2,3,4,5} = 9 / 3
        Assert.Equal(0.5, scores[6]!.Value, Tolerance);   // step 60: 2 / median{2,3,4,5,9} = 2 / 4
        var alert = Assert.Single(Feed(new CollapseDetector(Only(rule)), series));
        Assert.Equal((50L, AlertReasons.UpdateRatioJump), (alert.Step, alert.Reason));
        Assert.Contains("is 3.0× its median 0.003", alert.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void UpdateRatio_FirstMeasurementNaN_IsNotJudged_AndStaysOutOfTheWindow()
    {
        // NaN at step 0 (first measurement) and step 30 (after a restore): judged from the 5th finite ratio on.
        double[] ratios = [double.NaN, 1, 1, double.NaN, 1, 1, 1, 4];
        var series = ratios.Select((r, i) => M(i * 10, updateRatio: r * 1e-3)).ToList();
        var scores = Scores(new UpdateRatioRule { WindowSteps = 1000, MinMeasurements = 5 }, series);
        Assert.Equal([null, null, null, null, null, null, null, 4.0], scores);
        Assert.Equal(1.0, Scores(new UpdateRatioRule { WindowSteps = 1000, MinMeasurements = 4 }, series)[6]!.Value, Tolerance);
    }

    public static TheoryData<string, double[], double> UpdateRatioQuiet => new()
    {
        { "constant ratio", [2e-3, 2e-3, 2e-3, 2e-3, 2e-3, 2e-3, 2e-3, 2e-3], 1.0 },
        { "frozen layer", [0, 0, 0, 0, 0, 0, 0, 0], 0.0 },
        { "frozen layer with rounding noise: ratio over the 1e-6 floor", [0, 0, 0, 0, 0, 0, 0, 2e-7], 0.2 },
        { "no ratio at all (NaN)", [double.NaN, double.NaN, double.NaN, double.NaN, double.NaN, double.NaN, double.NaN, double.NaN], double.NaN },
        { "infinite ratios are not judged", [1e-3, 1e-3, 1e-3, 1e-3, 1e-3, 1e-3, 1e-3, double.PositiveInfinity], 1.0 },
    };

    [Theory]
    [MemberData(nameof(UpdateRatioQuiet))]
    public void UpdateRatio_QuietOrDegenerate_NeverAlerts(string why, double[] ratios, double lastJudged)
    {
        var series = ratios.Select((r, i) => M(i * 10, updateRatio: r)).ToList();
        var rule = new UpdateRatioRule { WindowSteps = 100, MinMeasurements = 5 };
        var judged = Scores(rule, series).Where(s => s is not null).ToList();
        if (double.IsNaN(lastJudged))
            Assert.Empty(judged);
        else
            Assert.Equal(lastJudged, judged[^1]!.Value, Tolerance);
        Assert.True(Feed(new CollapseDetector(Only(rule)), series).Count == 0, why);
    }

    [Fact]
    public void NewRules_InvalidSettings_AreListedTogether()
    {
        var options = Only(
            new CenteredSignCollapseRule { MeanThreshold = 0, DiversityThreshold = 1 },
            new UpdateRatioRule { WindowSteps = 0, MinMeasurements = 0, NoiseFloor = 0 });
        var problems = options.Validate();
        Assert.Equal(5, problems.Count);
        Assert.Contains(problems, p => p.Contains("NoiseFloor", StringComparison.Ordinal));
        Assert.Throws<ArgumentException>(() => new CollapseDetector(options));
    }
}
