using System.Diagnostics;
using SpectralAlign.Detection;
using SpectralAlign.Tests.Support;
using static SpectralAlign.Tests.Support.Measurements;

namespace SpectralAlign.Tests.Detection;

/// <summary>The calibrator on hand-constructed healthy runs (no torch).</summary>
public sealed class DetectionCalibratorTests
{
    [Fact]
    public void Fit_ThresholdsKeepReferenceRunsSilent_AndCatchALargerDeviation()
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
        // Every reference run stays silent; a shifted layer alarms.
        Assert.All(reference, r => Assert.Empty(Feed(new CollapseDetector(options), r.Measurements)));
        var alert = Assert.Single(Feed(new CollapseDetector(options), Run(99, shift: 0.15, shiftedLayer: "b")));
        Assert.Equal("b", alert.Layer);
        Assert.True(alert.Step >= 300);
    }

    [Fact]
    public void Fit_RunLogRepeatingStepsAfterAResume_KeepsTheLastMeasurementOfEachStepAndLayer()
    {
        // A run log appended to after resuming from an older checkpoint: steps 0–590 (a spike on "a" from step 400 —
        // the reason the run was resumed), then steps 300–990 again, healthy. The log's later copy of a step replaces
        // the earlier one, as if the abandoned stretch had never been written; the loss signals likewise.
        static List<LayerMeasurement> Pass(int seed, int from, int to, double spikeFrom)
        {
            var random = new Random(seed);
            var list = new List<LayerMeasurement>();
            for (int step = from; step < to; step += 10)
            {
                list.Add(M(step, mean: 0.1 + 0.02 * random.NextDouble() + (step >= spikeFrom ? 0.5 : 0), diversity: 0.9, layer: "a"));
                list.Add(M(step, mean: 0.3 + 0.02 * random.NextDouble(), diversity: 0.9, layer: "b"));
            }

            return list;
        }

        static List<(long, TrainingSignals)> Losses(int seed, int from, int to, double spikeAt)
        {
            var random = new Random(seed);
            return [.. Enumerable.Range(from, to - from).Select(s => ((long)s, new TrainingSignals(Loss: (s == spikeAt ? 40 : 2) + 0.1 * random.NextDouble())))];
        }

        var abandoned = Pass(1, 0, 600, spikeFrom: 400);
        var resumed = Pass(2, 300, 1000, spikeFrom: double.PositiveInfinity);
        var abandonedLosses = Losses(3, 0, 600, spikeAt: 450);
        var resumedLosses = Losses(4, 300, 1000, spikeAt: double.NaN);
        var log = new CalibrationRun { Measurements = [.. abandoned, .. resumed], Signals = [.. abandonedLosses, .. resumedLosses] };
        var reference = new CalibrationRun
        {
            Measurements = [.. abandoned.Where(m => m.Step < 300), .. resumed],
            Signals = [.. abandonedLosses.Where(s => s.Item1 < 300), .. resumedLosses],
        };
        var options = new DetectionOptions
        {
            WarmupSteps = 0,
            ConsecutiveMeasurements = 2,
            Rules = [new AbsoluteSignCollapseRule { DiversityThreshold = 0 }, new LossSpikeRule { WindowSteps = 50, MinSamples = 20 }],
        };

        var fromLog = DetectionCalibrator.Fit([log], options, margin: 0);
        var expected = DetectionCalibrator.Fit([reference], options, margin: 0);
        foreach (var (reason, subjects) in new[] { (AlertReasons.AbsoluteSignCollapse, new[] { "a", "b" }), (AlertReasons.LossSpike, new[] { CollapseAlert.RunLayer }) })
        {
            foreach (var subject in subjects)
                Assert.Equal(expected.ThresholdFor(reason, subject), fromLog.ThresholdFor(reason, subject));
        }

        // Which copy is kept matters: keeping the first (the abandoned stretch) would give other thresholds.
        var firstCopies = new CalibrationRun
        {
            Measurements = [.. abandoned, .. resumed.Where(m => m.Step >= 600)],
            Signals = [.. abandonedLosses, .. resumedLosses.Where(s => s.Item1 >= 600)],
        };
        var keptFirst = DetectionCalibrator.Fit([firstCopies], options, margin: 0);
        Assert.NotEqual(expected.ThresholdFor(AlertReasons.AbsoluteSignCollapse, "a"), keptFirst.ThresholdFor(AlertReasons.AbsoluteSignCollapse, "a"));
        Assert.NotEqual(expected.ThresholdFor(AlertReasons.LossSpike, CollapseAlert.RunLayer), keptFirst.ThresholdFor(AlertReasons.LossSpike, CollapseAlert.RunLayer));
    }

    [Fact]
    public void Fit_BudgetAllowsTheWorstReferenceRunToAlarm()
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
    public void Fit_RunRuleWithPersistenceOne_ThresholdIsTheLargestSingleStepScorePlusMargin()
    {
        // Two healthy runs of a noisy gradient norm; the rule alerts on one step, so the threshold is the largest
        // single-step z over both runs (sustained over 1 step = the score itself), raised by the 25% margin.
        var runs = new[] { 1, 2 }.Select(seed =>
        {
            var random = new Random(seed);
            return new CalibrationRun
            {
                Measurements = [],
                Signals = [.. Enumerable.Range(0, 80).Select(step => ((long)step, new TrainingSignals(GradientNorm: 1 + 0.1 * random.NextDouble())))],
            };
        }).ToList();
        var rule = new GradientNormSpikeRule { WindowSteps = 20, MinSamples = 20 };
        var options = new DetectionOptions { WarmupSteps = 0, ConsecutiveMeasurements = 5, Rules = [rule] };
        double largest = runs.Max(r => Scores(rule, r.Signals.Select(s => s.Signals)).Max()!.Value);
        double threshold = DetectionCalibrator.Fit(runs, options).ThresholdFor(AlertReasons.GradientNormSpike, CollapseAlert.RunLayer)!.Value;
        Assert.Equal(largest * 1.25, threshold, 1e-9);
    }

    [Fact]
    public void Fit_CrossLayerRule_CalibratedPerGroup()
    {
        var runs = new[] { 1, 2, 3 }.Select(seed =>
        {
            var random = new Random(seed);
            return new CalibrationRun
            {
                Measurements = [.. Enumerable.Range(0, 30).SelectMany(i => new[]
                {
                    M(i * 10, sigma: 1 + 0.1 * random.NextDouble(), layer: "x.a"), M(i * 10, sigma: 1, layer: "x.b"),
                    M(i * 10, sigma: 5 + 0.1 * random.NextDouble(), layer: "y.a"), M(i * 10, sigma: 1, layer: "y.b"),
                })],
            };
        }).ToList();
        var calibration = DetectionCalibrator.Fit(runs, new DetectionOptions { WarmupSteps = 0, Rules = [new TestRules.ProductRule()] });
        var thresholds = calibration.ThresholdsFor("Product");
        Assert.Equal(["x", "y"], thresholds.Keys.Order());
        Assert.InRange(thresholds["x"], 1.05, 2);
        Assert.InRange(thresholds["y"], 5.05, 6);
    }

    [Fact]
    public void Fit_ThrowingRule_ThrowsInvalidOperationNamingTheRule()
    {
        var runs = new[] { new CalibrationRun { Measurements = [M(0, layer: "bad")] } };
        var ex = Assert.Throws<InvalidOperationException>(() => DetectionCalibrator.Fit(runs, Only(new TestRules.Thrower())));
        Assert.Contains("Thrower", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Fit_LongReferenceRun_RobustSpreadInLinearTime()
    {
        // 20,000 scores of one layer: the per-layer spread (1.4826·MAD) must not re-sort the sample per value
        // (that was O(n² log n): minutes here). Generous bound for a shared CPU; the linear version takes milliseconds.
        var random = new Random(8);
        var run = new CalibrationRun { Measurements = [.. Enumerable.Range(0, 20_000).Select(i => M(i, mean: 0.1 + 0.05 * random.NextDouble()))] };
        var options = new DetectionOptions { WarmupSteps = 0, Rules = [new AbsoluteSignCollapseRule { DiversityThreshold = 0 }] };
        var watch = Stopwatch.StartNew();
        var calibration = DetectionCalibrator.Fit([run], options);
        watch.Stop();
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(5), $"calibration took {watch.Elapsed}");
        // Independent reference: medians by sorting, of the scores and of their absolute deviations.
        static double SortedMedian(IEnumerable<double> values)
        {
            var sorted = values.Order().ToArray();
            return (sorted[(sorted.Length - 1) / 2] + sorted[sorted.Length / 2]) / 2;
        }

        var scores = run.Measurements.Select(m => m.Stats.AbsMean / 0.2).ToArray();
        double median = SortedMedian(scores);
        double spread = 1.4826 * SortedMedian(scores.Select(s => Math.Abs(s - median)));
        // One run, budget 0: the level is the run's largest sustained z, and the threshold median + level·spread
        // (×1.25 margin on the level) lies above the largest 5-in-a-row minimum score.
        double threshold = calibration.ThresholdFor(AlertReasons.AbsoluteSignCollapse, "l")!.Value;
        double sustainedMax = Enumerable.Range(0, scores.Length - 4).Max(i => scores.Skip(i).Take(5).Min());
        double level = (sustainedMax - median) / spread;
        Assert.Equal(median + 1.25 * level * spread, threshold, 1e-9);
    }

    [Fact]
    public void Fit_InvalidInput_ListsEveryProblemInTheSharedFormat()
    {
        var ex = Assert.Throws<ArgumentException>(() => DetectionCalibrator.Fit([], new DetectionOptions(), 1.5, -1));
        Assert.StartsWith("Invalid DetectionCalibrator.Fit arguments (3 problems):" + Environment.NewLine, ex.Message, StringComparison.Ordinal);
        Assert.Contains("  - at least one healthy reference run is needed" + Environment.NewLine, ex.Message, StringComparison.Ordinal);
        Assert.Contains("  - the false-alarm budget must be in [0, 1) (was 1.5)" + Environment.NewLine, ex.Message, StringComparison.Ordinal);
        Assert.Contains("  - the margin must be a finite number >= 0 (was -1)", ex.Message, StringComparison.Ordinal);
        Assert.Equal("healthyRuns", ex.ParamName);
    }

    [Fact]
    public void Fit_OptionsWithSeveralProblems_ListsEveryProblemAsTheDetectorDoes()
    {
        var options = new DetectionOptions
        {
            WarmupSteps = -1,
            ConsecutiveMeasurements = 0,
            Rules =
            [
                new BaselineRelativeRule { BaselineMeasurements = 1 },
                new AbsoluteSignCollapseRule { Reason = " ", Threshold = double.NaN },
                null!,
            ],
        };
        var runs = new[] { new CalibrationRun { Measurements = [M(0, mean: 0.1, diversity: 0.9)] } };
        int count = options.Validate().Count;
        Assert.True(count >= 5, $"the options have {count} problems");

        var ex = Assert.Throws<ArgumentException>(() => DetectionCalibrator.Fit(runs, options));

        // The detector, given the same options, formats them with the shared helper: the calibrator lists the same
        // problems, one a line, the same way, under its own heading.
        var detector = Assert.Throws<ArgumentException>(() => new CollapseDetector(options));
        Assert.Equal(
            detector.Message.Replace($"Invalid DetectionOptions ({count} problems)", $"Invalid DetectionCalibrator.Fit arguments ({count} problems)", StringComparison.Ordinal),
            ex.Message);
        Assert.Equal("options", ex.ParamName);
        Assert.All(options.Validate(), problem => Assert.Contains("  - " + problem, ex.Message, StringComparison.Ordinal));
    }
}
