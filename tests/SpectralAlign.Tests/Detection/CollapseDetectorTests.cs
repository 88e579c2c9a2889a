using SpectralAlign.Detection;
using SpectralAlign.Tests.Support;
using static SpectralAlign.Tests.Support.Measurements;

namespace SpectralAlign.Tests.Detection;

/// <summary>The detector as controller: thresholds, warm-up, episodes, persistence per rule, cross-layer groups,
/// exception isolation — on hand-constructed measurement series (no torch).</summary>
public sealed class CollapseDetectorTests
{
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
        Assert.Empty(detector.LastScores);
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
    public void Observe_LastScores_ListEveryScoreWithItsThreshold()
    {
        var options = Only(new AbsoluteSignCollapseRule(), new AbsoluteSignCollapseRule { Reason = "Strict", MeanThreshold = 0.1, Threshold = 2 });
        var detector = new CollapseDetector(options);
        detector.Observe(M(0, mean: 0.1, diversity: 0.9));
        // Paper rule: max(0.1 / 0.2, (1 − 0.9) / 0.9) = 0.5; the strict copy: max(0.1 / 0.1, 0.1 / 0.9) = 1.
        Assert.Equal(
            [new RuleScore(AlertReasons.AbsoluteSignCollapse, "l", 0, 0.5, 1), new RuleScore("Strict", "l", 0, 1, 2)],
            detector.LastScores.Select(s => s with { Score = Math.Round(s.Score, 12) }));
    }

    [Fact]
    public void Observe_SameRuleTypeTwiceWithOwnReasons_EachAlertsOnItsOwnSettings()
    {
        var detector = new CollapseDetector(Only(new AbsoluteSignCollapseRule(), new AbsoluteSignCollapseRule { Reason = "LooseAbsolute", MeanThreshold = 0.5, DiversityThreshold = 0 }));
        var alerts = Feed(detector, [M(0, mean: 0.3, diversity: 0.9), M(1, mean: 0.6, diversity: 0.9)]);
        Assert.Equal([(0L, AlertReasons.AbsoluteSignCollapse), (1L, "LooseAbsolute")], alerts.Select(a => (a.Step, a.Reason)));
    }

    [Fact]
    public void Observe_RulePersistence_OverridesTheOptionsConsecutiveCount()
    {
        var options = Options(warmup: 0, consecutive: 5);
        options.Rules = [new AbsoluteSignCollapseRule(), new AbsoluteSignCollapseRule { Reason = "Immediate", Persistence = 1 }];
        var alerts = Feed(new CollapseDetector(options), Enumerable.Range(0, 10).Select(i => M(i, mean: 0.5)));
        Assert.Equal([(0L, "Immediate"), (4L, AlertReasons.AbsoluteSignCollapse)], alerts.Select(a => (a.Step, a.Reason)));
    }

    [Fact]
    public void Observe_CalibratedThreshold_ReplacesTheRulesOwnForThatLayerOnly()
    {
        var options = Only(new AbsoluteSignCollapseRule());
        options.Calibration = new DetectionCalibration(
            new Dictionary<string, IReadOnlyDictionary<string, double>> { [AlertReasons.AbsoluteSignCollapse] = new Dictionary<string, double> { ["q"] = 3 } }, 0, 0, 1);
        var detector = new CollapseDetector(options);
        Assert.Empty(detector.Observe(M(0, mean: 0.5, layer: "q")));        // score 2.5 < calibrated 3
        Assert.Equal(3, Assert.Single(detector.LastScores).Threshold);
        Assert.Single(detector.Observe(M(0, mean: 0.5, layer: "k")));       // score 2.5 ≥ the rule's 1
        Assert.Equal(1, Assert.Single(detector.LastScores).Threshold);
    }

    [Fact]
    public void Observe_RuleThrows_IsolatedForThatLayer_OthersContinue_FaultReportedOnce()
    {
        var options = Only(new TestRules.Thrower { FailFrom = 3 }, new AbsoluteSignCollapseRule());
        var detector = new CollapseDetector(options);
        var alerts = new List<CollapseAlert>();
        for (int step = 0; step < 8; step++)
        {
            // Must not throw, whatever the rule does.
            alerts.AddRange(detector.ObserveStep(step, [M(step, mean: 0.6, layer: "bad"), M(step, mean: 0.6, layer: "good")]));
        }

        var fault = Assert.Single(detector.TakeFaults());
        Assert.Equal(("Thrower", "bad", 3L), (fault.Reason, fault.Subject, fault.Step));
        Assert.IsType<InvalidOperationException>(fault.Exception);
        Assert.Empty(detector.TakeFaults());
        // The thrower alerted on both layers at step 0 (persistence 1, never recovers); the other rule runs on in both.
        Assert.Equal(4, alerts.Count);
        Assert.Contains(alerts, a => a is { Reason: "Thrower", Layer: "bad", Step: 0 });
        Assert.Contains(alerts, a => a is { Reason: AlertReasons.AbsoluteSignCollapse, Layer: "bad" });
        // Its scores stop on the failing layer only.
        detector.ObserveStep(8, [M(8, layer: "bad"), M(8, layer: "good")]);
        Assert.Equal(["bad:" + AlertReasons.AbsoluteSignCollapse, "good:Thrower", "good:" + AlertReasons.AbsoluteSignCollapse], detector.LastScores.Select(s => s.Subject + ":" + s.Reason));

        // A reset gives the layer a fresh scorer.
        detector.Reset("bad");
        Assert.DoesNotContain(detector.ObserveStep(9, [M(9, layer: "bad")]), a => a.Reason == "Thrower");
        Assert.Single(detector.TakeFaults());
    }

    [Fact]
    public void ObserveSignals_RunRuleThrows_IsolatedAndReported()
    {
        var detector = new CollapseDetector(Only(new TestRules.ThrowingRunRule(), new GradientNormSpikeRule { WindowSteps = 4, MinSamples = 4 }));
        var alerts = FeedSignals(detector, Enumerable.Range(0, 10).Select(i => new TrainingSignals(GradientNorm: i == 8 ? 100 : 1 + 0.01 * (i % 3))));
        Assert.Equal(CollapseAlert.RunLayer, Assert.Single(detector.TakeFaults()).Subject);
        Assert.Equal(8, Assert.Single(alerts).Step);
    }

    [Fact]
    public void ObserveStep_CrossLayerRule_JudgesEachCompleteGroup_AlertsUnderTheGroupName()
    {
        var options = Only(new TestRules.ProductRule());
        var detector = new CollapseDetector(options);
        List<LayerMeasurement> Step(long s, double sigmaA, bool withB = true)
        {
            var step = new List<LayerMeasurement> { M(s, sigma: sigmaA, layer: "blk0.a"), M(s, sigma: 2, layer: "blk0.b"), M(s, sigma: 1, layer: "blk1.a"), M(s, sigma: 1, layer: "blk1.b") };
            if (!withB)
                step.RemoveAt(1);
            return step;
        }

        Assert.Empty(detector.ObserveStep(0, Step(0, 1)));                 // warming (first observation of each group)
        Assert.Empty(detector.LastScores);
        Assert.Empty(detector.ObserveStep(1, Step(1, 4)));                 // 4 · 2 = 8 < 10
        Assert.Equal([("blk0", 8.0), ("blk1", 1.0)], detector.LastScores.Select(s => (s.Subject, s.Score)));
        Assert.Empty(detector.ObserveStep(2, Step(2, 9, withB: false)));   // blk0 incomplete: not judged
        var alert = Assert.Single(detector.ObserveStep(3, Step(3, 6)));   // 6 · 2 = 12 ≥ 10
        Assert.Equal(("blk0", 3L, "Product"), (alert.Layer, alert.Step, alert.Reason));
        Assert.Null(alert.Measurement);
        Assert.True(detector.IsAlerted("blk0", "Product"));

        // Resetting a member layer forgets its group.
        detector.Reset("blk0.b");
        Assert.False(detector.IsAlerted("blk0", "Product"));
        Assert.Empty(detector.ObserveStep(4, Step(4, 6)));                 // warming again
    }

    [Fact]
    public void ObserveStep_MeasurementOfAnotherStep_Throws()
    {
        var detector = new CollapseDetector();
        Assert.Throws<ArgumentException>(() => detector.ObserveStep(5, [M(4)]));
    }

    [Fact]
    public void ObserveStep_SameLayerTwice_ThrowsNamingTheLayerAndScoresNothing()
    {
        var detector = new CollapseDetector(Only(new TestRules.AlwaysFires()));
        var ex = Assert.Throws<ArgumentException>(() => detector.ObserveStep(3, [M(3, layer: "x"), M(3, layer: "y"), M(3, layer: "x", mean: 0.5)]));
        Assert.Contains("'x'", ex.Message, StringComparison.Ordinal);
        Assert.Equal("measurements", ex.ParamName);
        Assert.False(detector.IsAlerted("x", "Always"));   // refused whole: no layer was scored
        Assert.False(detector.IsAlerted("y", "Always"));
    }

    [Fact]
    public void ObserveStep_SameAlertsAsObserveThenObserveSignals_ForLayerAndRunRules()
    {
        var options = Options(warmup: 0, baseline: 3, consecutive: 2);
        options.Rules.Add(new LossSpikeRule { WindowSteps = 5, MinSamples = 5 });
        var random = new Random(4);
        var steps = Enumerable.Range(0, 60).Select(s => (Step: (long)s, M: M(s, mean: s > 40 ? 0.9 : 0.02 * random.NextDouble(), diversity: 0.9), Loss: s == 30 ? 50.0 : 2 + 0.01 * random.NextDouble())).ToList();

        var split = new CollapseDetector(options);
        var one = new CollapseDetector(options);
        var a = steps.SelectMany(s => split.Observe(s.M).Concat(split.ObserveSignals(s.Step, new TrainingSignals(Loss: s.Loss)))).ToList();
        var b = steps.SelectMany(s => one.ObserveStep(s.Step, [s.M], new TrainingSignals(Loss: s.Loss))).ToList();
        Assert.Equal(a.Select(x => (x.Layer, x.Step, x.Reason)), b.Select(x => (x.Layer, x.Step, x.Reason)));
        Assert.Contains(b, x => x.Reason == AlertReasons.LossSpike && x.Step == 30);
        Assert.Contains(b, x => x.Reason == AlertReasons.SignCollapse);
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
            Rules =
            [
                new BaselineRelativeRule { BaselineMeasurements = 1, Sigmas = double.NaN, MinMeanShift = 2, Persistence = 0 },
                new BaselineRelativeRule(),
                new AbsoluteSignCollapseRule { Reason = " ", Threshold = double.NaN },
                new GradientNormSpikeRule { MinSamples = 500 },
                null!,
            ],
        };
        var ex = Assert.Throws<ArgumentException>(() => new CollapseDetector(options));
        foreach (var fragment in new[]
        {
            "WarmupSteps", "ConsecutiveMeasurements", "RecoveryMeasurements", "MinSamples must be >= 1", "BaselineMeasurements", "Sigmas", "MinMeanShift",
            "Persistence", "Rules[1] (BaselineRelativeRule) reuses the reason 'SignCollapse'", "Rules[2] (AbsoluteSignCollapseRule): Reason must not be empty",
            "Threshold must be a number", "Rules[3] (GradientNormSpikeRule): MinSamples must be in [2, WindowSteps]", "Rules[4] is null",
        })
        {
            Assert.Contains(fragment, ex.Message, StringComparison.Ordinal);
        }

        // Formatted as every options type's message is: the monitor given the same detection options (and nothing
        // else wrong) lists the same problems, the same way, under its own type name.
        Assert.Equal("options", ex.ParamName);
        Assert.StartsWith($"Invalid DetectionOptions ({options.Validate().Count} problems):", ex.Message, StringComparison.Ordinal);
        var monitor = Assert.Throws<ArgumentException>(() => new SpectralMonitor(new SpectralMonitorOptions { Detection = options }));
        Assert.Equal(monitor.Message.Replace(nameof(SpectralMonitorOptions), nameof(DetectionOptions), StringComparison.Ordinal), ex.Message);
    }

    [Fact]
    public void Constructor_CopiesOptions_LaterChangesHaveNoEffect()
    {
        var options = Options(warmup: 0, baseline: 2, consecutive: 1);
        var detector = new CollapseDetector(options);
        options.Rules.Clear();
        options.WarmupSteps = 100;
        detector.Observe(M(0, 0.0, 1.0));
        detector.Observe(M(1, 0.0, 1.0));
        Assert.Single(detector.Observe(M(2, 0.9, 0.0)));
    }
}
