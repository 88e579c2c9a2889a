using SpectralAlign.Guard;

namespace SpectralAlign.Tests.Guard;

public sealed class LossSpikeCheckTests
{
    /// <summary>A noisy, slowly decreasing loss: 2 − t/1000 ± 0.05.</summary>
    private static double Loss(int t) => 2 - t / 1000.0 + 0.05 * Math.Sin(t * 1.7);

    [Fact]
    public void IsSpike_NoisyDecreasingLoss_NeverASpike_ThenADoubledLossIs()
    {
        var check = new LossSpikeCheck(window: 50, factor: 2, deviations: 6);
        for (int t = 0; t < 500; t++)
            Assert.False(check.IsSpike(Loss(t), out _), $"step {t}");

        Assert.True(check.IsSpike(2 * Loss(500) + 0.1, out var detail));
        Assert.Contains("median", detail);
    }

    [Fact]
    public void IsSpike_BeforeTheWindowIsFull_NeverJudges()
    {
        var check = new LossSpikeCheck(window: 10, factor: 2, deviations: 6);
        for (int t = 0; t < 9; t++)
            check.IsSpike(1, out _);

        Assert.False(check.IsSpike(1000, out _));       // the 10th value fills the window
        Assert.True(check.IsSpike(1000, out _));
    }

    [Fact]
    public void IsSpike_LargeButWithinTheSpread_IsNotASpike()
    {
        var check = new LossSpikeCheck(window: 20, factor: 2, deviations: 6);
        for (int t = 0; t < 20; t++)
            check.IsSpike(t % 2 == 0 ? 0.5 : 3.5, out _);   // median 2, MAD 1.5

        Assert.False(check.IsSpike(4.5, out _));            // 2.25 × the median, but only 1.1 robust deviations above
    }

    [Fact]
    public void IsSpike_NonFinite_IsNotJudgedAndNotRemembered()
    {
        var check = new LossSpikeCheck(window: 5, factor: 2, deviations: 6);
        for (int t = 0; t < 5; t++)
            check.IsSpike(1, out _);

        Assert.False(check.IsSpike(double.NaN, out _));
        Assert.False(check.IsSpike(double.PositiveInfinity, out _));
        Assert.Equal([1.0, 1, 1, 1, 1], check.Save());
    }

    [Fact]
    public void Reset_ForgetsTheHistory()
    {
        var check = new LossSpikeCheck(window: 5, factor: 2, deviations: 6);
        for (int t = 0; t < 5; t++)
            check.IsSpike(1, out _);

        check.Reset();

        Assert.False(check.IsSpike(100, out _));
        Assert.Equal([100.0], check.Save());
    }
}
