using SpectralAlign.Detection;
using static SpectralAlign.Tests.Support.Measurements;

namespace SpectralAlign.Tests.Detection;

/// <summary><see cref="JacobianAlignmentRule"/> on hand-constructed series of
/// <see cref="LayerMeasurement.UpstreamAlignment"/> with hand-computed scores (no torch).</summary>
public sealed class JacobianAlignmentRuleTests
{
    private const double Tolerance = 1e-12;

    /// <summary>Lag 20 steps, window 30, 3 baseline values: with measurements every 10 steps the baseline at step t is
    /// the alignments at t − 50 &lt; s ≤ t − 20, i.e. steps t − 40, t − 30, t − 20.</summary>
    private static JacobianAlignmentRule Rule(double level = 0.9, double minRise = 0.3) =>
        new() { LagSteps = 20, WindowSteps = 30, MinBaselineMeasurements = 3, Level = level, MinRise = minRise };

    [Fact]
    public void Score_LevelUntilTheBaselineHolds_ThenRiseOverTheLaggedBaseline_HandComputed()
    {
        // Alignments at steps 0, 10, …: 0.1 0.2 0.1 0.2 0.1 0.6 0.65 0.7.
        double[] a = [0.1, 0.2, 0.1, 0.2, 0.1, 0.6, 0.65, 0.7];
        var series = a.Select((x, i) => M(i * 10, upstream: x)).ToList();
        var scores = Scores(Rule(), series);
        // Steps 0–30: fewer than 3 values at or before t − 20: level only, a / 0.9.
        for (int i = 0; i < 4; i++)
            Assert.Equal(a[i] / 0.9, scores[i]!.Value, Tolerance);
        // Step 40: baseline {0.1, 0.2, 0.1} (steps 0–20): median 0.1, MAD 0 → scale max(0, 0.3) = 0.3; (0.1 − 0.1) / 0.3 = 0
        // < level 0.1 / 0.9.
        Assert.Equal(0.1 / 0.9, scores[4]!.Value, Tolerance);
        // Step 50: baseline {0.2, 0.1, 0.2} (steps 10–30): median 0.2, MAD 0 → (0.6 − 0.2) / 0.3 = 1.333 > 0.6 / 0.9.
        Assert.Equal(0.4 / 0.3, scores[5]!.Value, Tolerance);
        // Step 60: baseline {0.1, 0.2, 0.1}: (0.65 − 0.1) / 0.3.
        Assert.Equal(0.55 / 0.3, scores[6]!.Value, Tolerance);
        // Step 70: baseline {0.2, 0.1, 0.6} (steps 30–50, the rise enters after the lag): median 0.2, MAD 0.1 → spread
        // 0.14826, 6σ = 0.88956 > 0.3: (0.7 − 0.2) / 0.88956 = 0.562 < the level term 0.7 / 0.9 = 0.778.
        Assert.Equal(0.7 / 0.9, scores[7]!.Value, Tolerance);
        Assert.Equal(0.5 / (6 * 1.4826 * 0.1), Scores(Rule(level: double.PositiveInfinity), series)[7]!.Value, 1e-9);

        var alerts = Feed(new CollapseDetector(Only(Rule())), series);
        Assert.Equal([50L], alerts.Select(x => x.Step));
        Assert.Equal(AlertReasons.JacobianAlignment, alerts[0].Reason);
        Assert.Contains("|cos(u1, v1)| 0.600", alerts[0].Detail, StringComparison.Ordinal);
        Assert.Contains("baseline median 0.200 over steps 1–30", alerts[0].Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void Score_LevelAlone_AndRiseAlone_AreSwitchable()
    {
        var high = Enumerable.Range(0, 8).Select(i => M(i * 10, upstream: 0.95)).ToList();
        // Constant 0.95: no rise, but above the level 0.9 from the first measurement on.
        Assert.All(Scores(Rule(), high), s => Assert.Equal(0.95 / 0.9, s!.Value, Tolerance));
        Assert.All(Scores(Rule(level: double.PositiveInfinity), high).Skip(4), s => Assert.Equal(0, s!.Value, Tolerance));
        var jump = Enumerable.Range(0, 8).Select(i => M(i * 10, upstream: i < 5 ? 0.1 : 0.5)).ToList();
        Assert.Equal(0.5 / 0.9, Scores(Rule(minRise: double.PositiveInfinity), jump)[5]!.Value, Tolerance);
        Assert.Equal(0.4 / 0.3, Scores(Rule(), jump)[5]!.Value, Tolerance);
    }

    [Theory]
    [InlineData("unlinked layer (NaN throughout)")]
    [InlineData("first measurement only")]
    [InlineData("constant alignment")]
    [InlineData("NaN gaps and infinities in a constant series")]
    public void Score_DegenerateOrConstant_NeverAlerts(string name)
    {
        double[] a = name switch
        {
            "unlinked layer (NaN throughout)" => [.. Enumerable.Repeat(double.NaN, 20)],
            "first measurement only" => [0.5],
            "constant alignment" => [.. Enumerable.Repeat(0.3, 20)],
            _ => [.. Enumerable.Range(0, 20).Select(i => i % 4 == 1 ? double.NaN : i % 7 == 3 ? double.PositiveInfinity : 0.3)],
        };
        var series = a.Select((x, i) => M(i * 10, upstream: x)).ToList();
        var scores = Scores(Rule(), series);
        Assert.All(scores.Where((s, i) => !double.IsFinite(a[i])), s => Assert.Null(s));
        Assert.All(scores.Where(s => s is not null), s => Assert.InRange(s!.Value, 0, 0.5 / 0.9));
        Assert.Empty(Feed(new CollapseDetector(Only(Rule())), series));
    }

    [Fact]
    public void Settings_Invalid_AreListedTogether()
    {
        var problems = Only(new JacobianAlignmentRule { Level = 0, Sigmas = -1, MinRise = double.NaN, LagSteps = 0, WindowSteps = 0, MinBaselineMeasurements = 1 }).Validate();
        Assert.Equal(6, problems.Count);
    }
}
