using MathNet.Numerics.Statistics;
using SpectralAlign.Scenarios.Analysis;
using SpectralAlign.Scenarios.Evaluation;
using SpectralAlign.Scenarios.Recording;

namespace SpectralAlign.Tests.Evaluation;

public sealed class RecordedScoresTests
{
    private static RunData WithSteps(IEnumerable<(double Loss, double Grad)> steps)
    {
        var run = HorizonRuns.Make("f", "stable", 1, steps: 1);
        return new RunData
        {
            Header = run.Header,
            Steps = steps.Select((s, i) => new StepRecord { Step = i, Loss = s.Loss, GradNorm = s.Grad }).ToList(),
            Measurements = run.Measurements,
            Alerts = [],
        };
    }

    [Fact]
    public void LossRatio_HandExample_RatioToTheMinimumOfEarlierFiniteLosses()
    {
        var run = WithSteps(new double[] { 4, 2, 3, 1, double.NaN, 2 }.Select(l => (l, 1.0)));
        Assert.Equal([double.NaN, 0.5, 1.5, 0.5, double.NaN, 2.0], RecordedScores.LossRatio(run));
    }

    [Theory]
    [InlineData(1, 16)]
    [InlineData(2, 128)]
    public void GradientNormZ_DriftingSeries_MatchesMeanAndSampleDeviationOfThePreviousWindow(int seed, int window)
    {
        // A gradient norm drifting over three orders of magnitude, with non-finite values that are skipped.
        var random = new Random(seed);
        var grads = Enumerable.Range(0, 1500).Select(t => t % 97 == 50 ? double.NaN : Math.Exp(t / 200.0) * (1 + 0.3 * random.NextDouble())).ToArray();
        var z = RecordedScores.GradientNormZ(WithSteps(grads.Select(g => (1.0, g))), window);

        var previous = new List<double>();
        for (int t = 0; t < grads.Length; t++)
        {
            if (!double.IsFinite(grads[t]))
            {
                Assert.True(double.IsNaN(z[t]));
                continue;
            }

            if (previous.Count < window)
            {
                Assert.True(double.IsNaN(z[t]), $"step {t}: window not full");
            }
            else
            {
                var w = previous.Skip(previous.Count - window).ToArray();
                double expected = (grads[t] - w.Mean()) / w.StandardDeviation();
                Assert.Equal(expected, z[t], 1e-7 * Math.Max(1, Math.Abs(expected)));
            }

            previous.Add(grads[t]);
        }
    }

    [Fact]
    public void GradientNormZ_ConstantWindow_NoScore()
    {
        var z = RecordedScores.GradientNormZ(WithSteps(Enumerable.Repeat((1.0, 2.0), 10)), 4);
        Assert.All(z, v => Assert.True(double.IsNaN(v)));
    }

    [Fact]
    public void MaxAbsMeanAlignment_MaxOverLayersHeldBetweenMeasurements()
    {
        // Layers a (mean = m) and b (mean = −m/2) measured every 5 steps, m = 0.1 · (t / 5 + 1) → max |mean| = m.
        var run = HorizonRuns.Make("f", "stable", 1, steps: 12, absMean: t => 0.1 * (t / 5 + 1));
        var s = RecordedScores.MaxAbsMeanAlignment(run);
        Assert.Equal([0.1, 0.1, 0.1, 0.1, 0.1, 0.2, 0.2, 0.2, 0.2, 0.2, 0.3, 0.3], s.Select(v => Math.Round(v, 12)).ToArray());

        // A negative mean counts by its magnitude.
        var flipped = HorizonRuns.Make("f", "stable", 1, steps: 3, interval: 1, absMean: t => t == 1 ? -0.8 : 0.2);
        Assert.Equal([0.2, 0.8, 0.2], RecordedScores.MaxAbsMeanAlignment(flipped).Select(v => Math.Round(v, 12)).ToArray());
    }

    [Fact]
    public void MaxAbsMeanAlignment_BeforeTheFirstMeasurement_NoScore()
    {
        var run = HorizonRuns.Make("f", "stable", 1, steps: 3);
        var late = new RunData { Header = run.Header, Steps = run.Steps, Measurements = new Dictionary<string, IReadOnlyList<SpectralAlign.LayerMeasurement>>(), Alerts = [] };
        Assert.All(RecordedScores.MaxAbsMeanAlignment(late), v => Assert.True(double.IsNaN(v)));
    }
}
