using System.Text;
using SpectralAlign.Detection;

namespace SpectralAlign.Tests.Detection;

/// <summary>The scored rules, run rules and the calibrator, on hand-constructed series (no torch).</summary>
public sealed class RuleTests
{
    private static LayerMeasurement M(long step, double mean = 0.05, double diversity = 0.9, double sigma = 1, double frobenius = 3, double maxAbs = 1, string layer = "l") => new()
    {
        Layer = layer,
        Step = step,
        Stats = new SpectralAlignmentStats { Count = 256, Mean = mean, SignDiversity = diversity },
        SpectralNorm = sigma,
        FrobeniusNorm = frobenius,
        MaxAbsInput = maxAbs,
    };

    private static DetectionOptions Only(IDetectionRule rule, int consecutive = 1) => new() { WarmupSteps = 0, ConsecutiveMeasurements = consecutive, Rules = [rule] };

    private static List<CollapseAlert> Feed(CollapseDetector detector, IEnumerable<LayerMeasurement> series) => series.SelectMany(detector.Observe).ToList();

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
    public void GradientNormSpike_SixSigmaAboveWindow_Fires_NotBefore()
    {
        var options = new DetectionOptions { WarmupSteps = 0, ConsecutiveMeasurements = 1, Rules = [], RunRules = [new GradientNormSpikeRule { WindowSteps = 50 }] };
        var detector = new CollapseDetector(options);
        var random = new Random(3);
        var alerts = new List<CollapseAlert>();
        for (int step = 0; step < 200; step++)
        {
            double g = step == 150 ? 10 : 1 + 0.1 * (random.NextDouble() - 0.5);
            alerts.AddRange(detector.ObserveSignals(step, new TrainingSignals(GradientNorm: g)));
        }

        var alert = Assert.Single(alerts);
        Assert.Equal(150, alert.Step);
        Assert.Equal(CollapseAlert.RunLayer, alert.Layer);
        Assert.Equal(AlertReasons.GradientNormSpike, alert.Reason);
        Assert.Null(alert.Measurement);
        // Without the signal the rule is silent.
        Assert.Empty(new CollapseDetector(options).ObserveSignals(5, new TrainingSignals(Loss: 1)));
    }

    [Fact]
    public void LossSpike_NonFiniteLoss_IsAnInfiniteSpike()
    {
        var detector = new CollapseDetector(new DetectionOptions { WarmupSteps = 0, ConsecutiveMeasurements = 1, Rules = [], RunRules = [new LossSpikeRule()] });
        for (int step = 0; step < 30; step++)
            Assert.Empty(detector.ObserveSignals(step, new TrainingSignals(Loss: 2.0 + 0.01 * (step % 3))));
        var alert = Assert.Single(detector.ObserveSignals(30, new TrainingSignals(Loss: double.NaN)));
        Assert.Equal(AlertReasons.LossSpike, alert.Reason);
    }

    [Fact]
    public void Calibrator_FitsThresholdsThatKeepReferenceRunsSilent_AndCatchALargerDeviation()
    {
        // Three layers with different typical levels of |mean SA|; five healthy runs with noise.
        List<LayerMeasurement> Run(int seed, double shift = 0, string? shiftedLayer = null)
        {
            var random = new Random(seed);
            var list = new List<LayerMeasurement>();
            for (int i = 0; i < 60; i++)
            {
                foreach (var (layer, level) in new[] { ("a", 0.05), ("b", 0.3), ("c", 0.6) })
                {
                    double mean = level + 0.03 * (random.NextDouble() - 0.5) + (layer == shiftedLayer && i >= 30 ? shift : 0);
                    list.Add(M(i * 10, mean: mean, diversity: 0.9, layer: layer));
                }
            }

            return list;
        }

        var options = new DetectionOptions { WarmupSteps = 0, ConsecutiveMeasurements = 3, Rules = [new AbsoluteSignCollapseRule { DiversityThreshold = 0 }] };
        var reference = Enumerable.Range(1, 5).Select(s => new CalibrationRun { Measurements = Run(s) }).ToList();
        var calibration = DetectionCalibrator.Fit(reference, options, falseAlarmBudget: 0, margin: 0.25);
        options.Calibration = calibration;

        // Per-layer thresholds follow the layers' own levels (the uncalibrated threshold would be |mean| 0.2 for all).
        var thresholds = calibration.ThresholdsFor(AlertReasons.AbsoluteSignCollapse);
        Assert.True(thresholds["a"] < thresholds["b"] && thresholds["b"] < thresholds["c"]);
        // Every reference run stays silent; a new healthy run mostly too; a shifted layer alarms.
        Assert.All(reference, r => Assert.Empty(Feed(new CollapseDetector(options), r.Measurements)));
        var alert = Assert.Single(Feed(new CollapseDetector(options), Run(99, shift: 0.15, shiftedLayer: "b")));
        Assert.Equal("b", alert.Layer);
        Assert.True(alert.Step >= 300);
    }

    [Fact]
    public void Calibrator_BudgetAllowsTheWorstReferenceRunToAlarm()
    {
        var random = new Random(5);
        var runs = Enumerable.Range(0, 10).Select(k => new CalibrationRun
        {
            Measurements = Enumerable.Range(0, 20).Select(i => M(i * 10, mean: 0.1 + 0.02 * random.NextDouble() + (k == 9 && i > 10 ? 0.5 : 0))).ToList(),
        }).ToList();
        var options = new DetectionOptions { WarmupSteps = 0, ConsecutiveMeasurements = 2, Rules = [new AbsoluteSignCollapseRule { DiversityThreshold = 0 }] };
        double strict = DetectionCalibrator.Fit(runs, options, 0, 0).ThresholdFor(AlertReasons.AbsoluteSignCollapse, "l")!.Value;
        double lenient = DetectionCalibrator.Fit(runs, options, 0.1, 0).ThresholdFor(AlertReasons.AbsoluteSignCollapse, "l")!.Value;
        Assert.True(lenient < strict);
        options.Calibration = DetectionCalibrator.Fit(runs, options, 0.1, 0);
        Assert.Single(runs, r => Feed(new CollapseDetector(options), r.Measurements).Count > 0);
    }

    [Fact]
    public void Calibration_SaveLoad_RoundTrips_AndRejectsOtherDocuments()
    {
        var calibration = new DetectionCalibration(
            new Dictionary<string, IReadOnlyDictionary<string, double>> { ["X"] = new Dictionary<string, double> { ["a"] = 1.5, ["b"] = double.PositiveInfinity } },
            0.1, 0.25, 4, "test");
        using var stream = new MemoryStream();
        calibration.Save(stream);
        stream.Position = 0;
        var loaded = DetectionCalibration.Load(stream);
        Assert.Equal(1.5, loaded.ThresholdFor("X", "a"));
        Assert.Equal(double.PositiveInfinity, loaded.ThresholdFor("X", "b"));
        Assert.Null(loaded.ThresholdFor("X", "c"));
        Assert.Equal((0.1, 0.25, 4, "test"), (loaded.FalseAlarmBudget, loaded.Margin, loaded.ReferenceRuns, loaded.Description));
        Assert.Throws<InvalidDataException>(() => DetectionCalibration.Load(new MemoryStream(Encoding.UTF8.GetBytes("{\"format\":\"x\"}"))));
    }

    [Fact]
    public void Calibrator_InvalidInput_ListsProblems()
    {
        var ex = Assert.Throws<ArgumentException>(() => DetectionCalibrator.Fit([], new DetectionOptions(), 1.5, -1));
        Assert.Contains("at least one", ex.Message, StringComparison.Ordinal);
        Assert.Contains("budget", ex.Message, StringComparison.Ordinal);
        Assert.Contains("margin", ex.Message, StringComparison.Ordinal);
    }
}
