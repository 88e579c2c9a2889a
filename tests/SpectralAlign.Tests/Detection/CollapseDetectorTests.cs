using SpectralAlign.Detection;

namespace SpectralAlign.Tests.Detection;

/// <summary>Episode logic and the built-in rules, on hand-constructed measurement series (no torch).</summary>
public sealed class CollapseDetectorTests
{
    private static LayerMeasurement M(long step, double mean, double diversity, int count = 256, MeasurementConditions conditions = MeasurementConditions.None, string layer = "l") => new()
    {
        Layer = layer,
        Step = step,
        Stats = new SpectralAlignmentStats { Count = count, Mean = mean, SignDiversity = diversity, PositiveFraction = diversity / 2 },
        SpectralNorm = 1,
        Conditions = conditions,
    };

    private static DetectionOptions Options(int warmup = 2, int baseline = 5, int consecutive = 3, int recovery = 2) => new()
    {
        WarmupSteps = warmup,
        ConsecutiveMeasurements = consecutive,
        RecoveryMeasurements = recovery,
        Rules = [new BaselineRelativeRule { BaselineMeasurements = baseline }],
    };

    [Fact]
    public void Observe_SustainedCollapse_OneAlertPerEpisode_RearmedAfterRecovery()
    {
        var detector = new CollapseDetector(Options());
        var raised = new List<CollapseAlert>();
        long step = 0;
        void Feed(double mean, double d, int times)
        {
            for (int i = 0; i < times; i++)
                raised.AddRange(detector.Observe(M(step++, mean, d)));
        }

        Feed(0.02, 0.95, 2 + 5);        // warm-up + baseline
        Feed(0.03, 0.94, 20);           // healthy
        Assert.Empty(raised);
        Feed(0.60, 0.20, 2);            // collapse, not yet sustained
        Assert.Empty(raised);
        Feed(0.60, 0.20, 10);           // sustained: exactly one alert, at the 3rd anomalous measurement
        var alert = Assert.Single(raised);
        Assert.Equal(AlertReasons.SignCollapse, alert.Reason);
        Assert.Equal(29, alert.Step);
        Assert.Equal(27, alert.EpisodeStartStep);
        Assert.True(detector.IsAlerted("l", AlertReasons.SignCollapse));
        Assert.Contains("sign diversity", alert.Detail, StringComparison.Ordinal);

        Feed(0.03, 0.94, 1);            // one normal measurement does not re-arm (recovery = 2)
        Feed(0.60, 0.20, 5);
        Assert.Single(raised);
        Feed(0.03, 0.94, 2);            // recovered
        Assert.False(detector.IsAlerted("l", AlertReasons.SignCollapse));
        Feed(0.60, 0.20, 3);            // a new episode
        Assert.Equal(2, raised.Count);
    }

    [Fact]
    public void Observe_LayerOneSidedFromTheStart_StaysSilent_ButAlertsOnFurtherCollapse()
    {
        // A healthy layer fed by post-ReLU inputs: one-sided throughout (|mean| ≈ 0.35, D ≈ 0.02).
        var detector = new CollapseDetector(Options());
        var raised = new List<CollapseAlert>();
        var random = new Random(1);
        long step = 0;
        for (int i = 0; i < 200; i++)
            raised.AddRange(detector.Observe(M(step++, 0.35 + 0.01 * (random.NextDouble() - 0.5), 0.02)));
        Assert.Empty(raised);

        for (int i = 0; i < 5; i++)
            raised.AddRange(detector.Observe(M(step++, 0.8, 0.0)));
        Assert.Single(raised);
    }

    [Fact]
    public void Observe_PaperAbsoluteRule_FiresOnOneSidedHealthyLayer()
    {
        var options = Options();
        options.Rules = [new AbsoluteSignCollapseRule()];
        var detector = new CollapseDetector(options);
        var raised = Enumerable.Range(0, 20).SelectMany(i => detector.Observe(M(i, 0.35, 0.02))).ToList();
        var alert = Assert.Single(raised);
        Assert.Equal(AlertReasons.AbsoluteSignCollapse, alert.Reason);
        Assert.Equal(4, alert.Step); // 2 warm-up + 3 consecutive
    }

    [Fact]
    public void Observe_NonFinite_AlertsAtOnce_OncePerEpisode_AndSkipsRules()
    {
        var detector = new CollapseDetector(Options(warmup: 0, baseline: 2));
        var raised = new List<CollapseAlert>();
        for (int i = 0; i < 5; i++)
            raised.AddRange(detector.Observe(M(i, 0.9, 0, count: 0, conditions: MeasurementConditions.NonFiniteWeight)));
        var alert = Assert.Single(raised);
        Assert.Equal(AlertReasons.NonFinite, alert.Reason);
        Assert.Equal(0, alert.Step);
        Assert.Contains("weight", alert.Detail, StringComparison.Ordinal);

        raised.AddRange(detector.Observe(M(5, 0.01, 0.9, conditions: MeasurementConditions.NonFiniteInput)));
        Assert.Single(raised); // still the same episode
    }

    [Fact]
    public void Observe_TooFewSamplesOrNoInput_NotJudged()
    {
        var detector = new CollapseDetector(Options(warmup: 0, baseline: 2, consecutive: 1));
        detector.Observe(M(0, 0.0, 1.0));
        detector.Observe(M(1, 0.0, 1.0));
        Assert.Empty(detector.Observe(M(2, 0.9, 0.0, count: 3)));
        Assert.Empty(detector.Observe(M(3, 0.9, 0.0, conditions: MeasurementConditions.NoInput)));
        Assert.Empty(detector.Observe(M(4, 0.9, 0.0, conditions: MeasurementConditions.ZeroWeight)));
        Assert.Single(detector.Observe(M(5, 0.9, 0.0)));
    }

    [Fact]
    public void Observe_LayersAreIndependent()
    {
        var detector = new CollapseDetector(Options(warmup: 0, baseline: 2, consecutive: 1));
        foreach (var layer in new[] { "a", "b" })
        {
            detector.Observe(M(0, 0.0, 1.0, layer: layer));
            detector.Observe(M(1, 0.0, 1.0, layer: layer));
        }

        Assert.Single(detector.Observe(M(2, 0.9, 0.0, layer: "a")));
        Assert.Empty(detector.Observe(M(2, 0.0, 1.0, layer: "b")));
        Assert.True(detector.IsAlerted("a", AlertReasons.SignCollapse));
        Assert.False(detector.IsAlerted("b", AlertReasons.SignCollapse));
    }

    [Fact]
    public void Constructor_InvalidOptions_ListsEveryProblem()
    {
        var options = new DetectionOptions
        {
            WarmupSteps = -1,
            ConsecutiveMeasurements = 0,
            RecoveryMeasurements = 0,
            MinSamples = 0,
            Rules = [new BaselineRelativeRule { BaselineMeasurements = 1, Sigmas = double.NaN, MinMeanShift = 2 }, new BaselineRelativeRule()],
        };
        var ex = Assert.Throws<ArgumentException>(() => new CollapseDetector(options));
        foreach (var fragment in new[] { "WarmupSteps", "ConsecutiveMeasurements", "RecoveryMeasurements", "MinSamples", "BaselineMeasurements", "Sigmas", "MinMeanShift", "reuses the reason" })
            Assert.Contains(fragment, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Constructor_CopiesOptions_LaterChangesHaveNoEffect()
    {
        var options = Options(warmup: 0, baseline: 2, consecutive: 1);
        var detector = new CollapseDetector(options);
        options.Rules.Clear();
        detector.Observe(M(0, 0.0, 1.0));
        detector.Observe(M(1, 0.0, 1.0));
        Assert.Single(detector.Observe(M(2, 0.9, 0.0)));
    }
}
