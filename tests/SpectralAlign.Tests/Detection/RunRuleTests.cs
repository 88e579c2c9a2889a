using MathNet.Numerics.Statistics;
using SpectralAlign.Detection;
using static SpectralAlign.Tests.Support.Measurements;

namespace SpectralAlign.Tests.Detection;

/// <summary>The run-level rules on hand-constructed signal series (no torch).</summary>
public sealed class RunRuleTests
{
    [Fact]
    public void GradientNormSpike_OlmoDefaults_FullWindowOf128_SingleStepAlert_ZScoreAgainstReference()
    {
        var random = new Random(3);
        var norms = Enumerable.Range(0, 300).Select(step => step == 200 ? 10 : 1 + 0.1 * (random.NextDouble() - 0.5)).ToArray();
        // The options ask for 5 consecutive anomalous steps; the rule's own persistence (1, OLMo's check) wins.
        var options = new DetectionOptions { WarmupSteps = 0, ConsecutiveMeasurements = 5, Rules = [new GradientNormSpikeRule()] };
        var detector = new CollapseDetector(options);
        var alerts = new List<CollapseAlert>();
        for (int step = 0; step < norms.Length; step++)
        {
            alerts.AddRange(detector.ObserveSignals(step, new TrainingSignals(GradientNorm: norms[step])));
            if (step < 128)
                Assert.Empty(detector.LastScores);   // judged once the 128-step window is full
            if (step is 128 or 150)
            {
                // Reference: z against the sample mean and standard deviation of the previous 128 values.
                var window = norms[(step - 128)..step];
                double z = (norms[step] - window.Mean()) / window.StandardDeviation();
                Assert.Equal(z, Assert.Single(detector.LastScores).Score, 1e-9);
            }
        }

        var alert = Assert.Single(alerts);
        Assert.Equal((CollapseAlert.RunLayer, 200L, 200L, AlertReasons.GradientNormSpike), (alert.Layer, alert.Step, alert.EpisodeStartStep, alert.Reason));
        Assert.Null(alert.Measurement);
        // Without the signal the rule is silent.
        Assert.Empty(new CollapseDetector(options).ObserveSignals(5, new TrainingSignals(Loss: 1)));
    }

    [Fact]
    public void GradientNormSpike_ConstantSignal_ScoresZero_FloatRoundingNeverAlerts()
    {
        // A constant gradient norm, as a float32 training loop reports it, then one float ulp higher.
        double constant = 2.1f;
        double nextUlp = MathF.BitIncrement(2.1f);
        var rule = new GradientNormSpikeRule { WindowSteps = 20, MinSamples = 20 };
        var signals = Enumerable.Range(0, 40).Select(step => new TrainingSignals(GradientNorm: step < 30 ? constant : nextUlp)).ToList();
        var scores = Scores(rule, signals);
        Assert.All(scores.Skip(20).Take(10), s => Assert.Equal(0, s!.Value, 1e-9));
        // One ulp (1.2e-7 relative) is far below the 1e-3 relative spread floor: a score of ~1e-4, no alert.
        Assert.All(scores.Skip(30), s => Assert.InRange(s!.Value, 0, 1e-3));
        Assert.Empty(FeedSignals(new CollapseDetector(Only(rule)), signals));
    }

    [Fact]
    public void GradientNormSpike_WindowOfExactZeros_HasNoScale_LeavingItIsInfinite()
    {
        var rule = new GradientNormSpikeRule { WindowSteps = 5, MinSamples = 5 };
        var scores = Scores(rule, [.. Enumerable.Repeat(new TrainingSignals(GradientNorm: 0), 6), new TrainingSignals(GradientNorm: 1e-9)]);
        Assert.Equal(0, scores[5]);
        Assert.Equal(double.PositiveInfinity, scores[6]);
    }

    [Fact]
    public void LossSpike_NonFiniteLoss_IsAnInfiniteSpike_AtOnce()
    {
        var detector = new CollapseDetector(new DetectionOptions { WarmupSteps = 0, Rules = [new LossSpikeRule { WindowSteps = 20, MinSamples = 20 }] });
        for (int step = 0; step < 30; step++)
            Assert.Empty(detector.ObserveSignals(step, new TrainingSignals(Loss: 2.0 + 0.01 * (step % 3))));
        var alert = Assert.Single(detector.ObserveSignals(30, new TrainingSignals(Loss: double.NaN)));
        Assert.Equal(AlertReasons.LossSpike, alert.Reason);
        Assert.Equal(double.PositiveInfinity, detector.LastScores[0].Score);
    }

    [Fact]
    public void GradientNormEma_ZClipUpdate_HandComputed()
    {
        // Warm-up 1, 2, 3: μ = 2, σ² = 2/3 (population). Then with α = 0.5:
        //   g = 2: z = 0; μ = 2, σ² = 1/3.
        //   g = 5: z = 3 / √(1/3) = 5.196 ≥ 2.5, a spike: g′ = μ + 2.5²·σ / z = 2.69444; μ = 2.34722, σ² = 0.226948.
        //   g = 3: z = (3 − 2.34722) / √0.226948 = 1.37026.
        var rule = new GradientNormEmaRule { Alpha = 0.5, WarmupSamples = 3 };
        var scores = Scores(rule, new double[] { 1, 2, 3, 2, 5, 3 }.Select(g => new TrainingSignals(GradientNorm: g)));
        Assert.Equal([null, null, null], scores.Take(3));
        Assert.Equal(0, scores[3]!.Value, 1e-12);
        Assert.Equal(5.196152422706632, scores[4]!.Value, 1e-12);
        Assert.Equal(1.3702565671886056, scores[5]!.Value, 1e-12);

        var alerts = FeedSignals(new CollapseDetector(new DetectionOptions { WarmupSteps = 0, Rules = [rule] }), new double[] { 1, 2, 3, 2, 5, 3 }.Select(g => new TrainingSignals(GradientNorm: g)));
        Assert.Equal((4L, AlertReasons.GradientNormEmaSpike), (Assert.Single(alerts).Step, alerts[0].Reason));
    }

    [Fact]
    public void GradientNormEma_ConstantSignal_NeverAlerts()
    {
        var signals = Enumerable.Range(0, 100).Select(step => new TrainingSignals(GradientNorm: step < 60 ? (double)0.7f : MathF.BitIncrement(0.7f))).ToList();
        Assert.All(Scores(new GradientNormEmaRule(), signals).Skip(25), s => Assert.InRange(s!.Value, 0, 1e-3));
    }
}
