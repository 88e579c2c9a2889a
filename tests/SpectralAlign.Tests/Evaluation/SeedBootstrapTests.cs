using SpectralAlign.Scenarios.Evaluation;

namespace SpectralAlign.Tests.Evaluation;

public sealed class SeedBootstrapTests
{
    [Fact]
    public void Estimate_TwoSeedsZeroAndOne_IntervalSpansBothEnds()
    {
        // The mean of two seeds {0, 1} resampled: 0 (p = 1/4), 1/2 (p = 1/2), 1 (p = 1/4), so the 2.5 % and 97.5 %
        // quantiles of 1,000 resamples are 0 and 1, and the point estimate is 1/2.
        double[] values = [0, 1];
        var m = SeedBootstrap.Estimate([0, 1], w => [(w[0] * values[0] + w[1] * values[1]) / (w[0] + w[1])], 1000, 7, 0.95)[0];
        Assert.Equal(new MetricEstimate(0.5, 0, 1), m);
    }

    [Fact]
    public void Estimate_DrawCountOfOneSeedAmongTen_PercentilesOfTheBinomial()
    {
        // How often seed 0 is drawn among 10 draws is Binomial(10, 0.1): P(0) = 0.349, P(≤ 2) = 0.930, P(≤ 3) = 0.987,
        // so the 2.5 % quantile is 0 and the 97.5 % quantile 3 (1,000 resamples put them there with overwhelming odds;
        // the fixed seed makes it certain).
        var clusters = Enumerable.Range(0, 10).ToArray();
        var m = SeedBootstrap.Estimate(clusters, w => [w[0]], 1000, 3, 0.95)[0];
        Assert.Equal(1, m.Value);
        Assert.Equal(0, m.Lower);
        Assert.Equal(3, m.Upper);
    }

    [Fact]
    public void Estimate_RunsOfOneSeed_AreResampledTogether()
    {
        int calls = 0;
        SeedBootstrap.Estimate([0, 0, 1, 2, 2], w =>
        {
            calls++;
            Assert.Equal(w[0], w[1]);
            Assert.Equal(w[3], w[4]);
            Assert.Equal(3, w[0] + w[2] + w[3]); // three seeds drawn
            return [0];
        }, 200, 1, 0.95);
        Assert.Equal(201, calls); // the point estimate, then every resample
    }

    [Fact]
    public void Estimate_SameSeed_SameInterval()
    {
        var values = new double[] { 0.3, 0.9, 0.1, 0.7, 0.4 };
        Func<int[], double[]> mean = w => [w.Select((x, i) => x * values[i]).Sum() / w.Sum()];
        Assert.Equal(SeedBootstrap.Estimate([0, 1, 2, 3, 4], mean, 500, 11, 0.9), SeedBootstrap.Estimate([0, 1, 2, 3, 4], mean, 500, 11, 0.9));
    }

    [Fact]
    public void Estimate_MetricUndefinedInMostResamples_NoInterval()
    {
        // Defined only when seed 0 is drawn every time (p = 1/8 for three seeds): fewer than half the resamples.
        var m = SeedBootstrap.Estimate([0, 1, 2], w => [w[0] == 3 ? 1 : double.NaN], 1000, 5, 0.95)[0];
        Assert.True(double.IsNaN(m.Value));
        Assert.True(double.IsNaN(m.Lower) && double.IsNaN(m.Upper));
    }

    [Fact]
    public void Estimate_MetricUndefinedInSomeResamples_IntervalOverTheDefinedOnes()
    {
        // Defined when seed 0 is drawn at least once (p = 3/4 for two seeds); then the value is 1.
        var m = SeedBootstrap.Estimate([0, 1], w => [w[0] > 0 ? 1 : double.NaN], 1000, 5, 0.95)[0];
        Assert.Equal(new MetricEstimate(1, 1, 1), m);
    }

    [Fact]
    public void Estimate_NoRuns_PointOnly()
    {
        var m = SeedBootstrap.Estimate([], _ => [double.NaN], 100, 1, 0.95)[0];
        Assert.True(double.IsNaN(m.Value) && double.IsNaN(m.Lower));
    }
}
