using SpectralAlign.Detection;
using SpectralAlign.Scenarios;
using SpectralAlign.Scenarios.Analysis;
using SpectralAlign.Scenarios.Recording;
using SpectralAlign.Tests.Support;

namespace SpectralAlign.Tests.Evaluation;

/// <summary>
/// The reduced, CI version of the detector evaluation: it checks the machinery (replay, calibration on separate seeds,
/// ground truth, lead times, the table) on planted runs, not the science (that is the committed evaluation of the
/// scenario suite).
/// </summary>
public sealed class DetectorEvaluationTests
{
    private const int Steps = 600, CollapseAt = 300, ExplodeAt = 450;

    /// <summary>
    /// A synthetic recorded run: three layers whose |mean SA| hovers around their own levels; in an exploding run
    /// layer "mid" collapses from step 300 (|mean| rising to 0.9 by step 400) and the loss explodes at step 450.
    /// </summary>
    private static RunData PlantedRun(string config, int seed)
    {
        var random = new Random(seed);
        bool exploding = config == "exploding";
        var layers = new[] { ("low", 0.03), ("mid", 0.25), ("high", 0.55) };
        var steps = new List<StepRecord>();
        var measurements = layers.ToDictionary(l => l.Item1, _ => new List<LayerMeasurement>(), StringComparer.Ordinal);
        for (int step = 0; step < Steps; step++)
        {
            double loss = 2.0 - step / 1000.0 + 0.02 * random.NextDouble();
            if (exploding && step >= ExplodeAt)
                loss = 10 + step;
            steps.Add(new StepRecord { Step = step, Loss = loss, GradNorm = 1 + 0.1 * random.NextDouble(), Lr = 1e-3 });
            if (step % 5 != 0)
                continue;
            foreach (var (name, level) in layers)
            {
                double mean = level + 0.04 * (random.NextDouble() - 0.5);
                if (exploding && name == "mid" && step >= CollapseAt)
                    mean = Math.Min(0.9, mean + (step - CollapseAt) * 0.0065);
                measurements[name].Add(Measurements.Bare(
                    name,
                    step,
                    stats: new SpectralAlignmentStats { Count = 256, Mean = mean, SignDiversity = Math.Max(0, 1 - 2 * mean), StdDev = 0.1 },
                    sigma: 2 + step / 1000.0,
                    frobenius: 6,
                    maxAbs: 3));
            }
        }

        return new RunData
        {
            Header = new RunHeader
            {
                Scenario = "planted",
                Config = config,
                Seed = seed,
                Settings = new Dictionary<string, string>(),
                Monitor = new Dictionary<string, string>(),
                GroundTruth = new Dictionary<string, double>(),
                Layers = layers.Select(l => new WatchedLayerInfo(l.Item1, 8, 8)).ToArray(),
            },
            Steps = steps,
            Measurements = measurements.ToDictionary(kv => kv.Key, kv => (IReadOnlyList<LayerMeasurement>)kv.Value, StringComparer.Ordinal),
            Alerts = [],
        };
    }

    [Fact]
    public void Evaluate_PlantedCollapse_CalibratedSaDetectorCatchesItWithTheExpectedLead_AndTheTableIsProduced()
    {
        var runs = new List<RunData>();
        foreach (var config in new[] { "stable", "exploding" })
        {
            for (int seed = 1; seed <= 5; seed++)
                runs.Add(PlantedRun(config, seed));
        }

        Assert.All(runs.Where(r => r.Header.Config == "exploding"), r => Assert.Equal(ExplodeAt, r.ExplosionStep));
        Assert.All(runs.Where(r => r.Header.Config == "stable"), r => Assert.Null(r.ExplosionStep));

        var settings = new EvaluationSettings { Interval = 10, CalibrationSeeds = [1, 2] };
        var detectors = DetectorEvaluation.Catalog.Where(d => d.Name is "default options" or "paper absolute, calibrated" or "grad-norm spike 6σ (OLMo)").ToList();
        var results = DetectorEvaluation.Evaluate(runs, detectors, settings);

        var calibrated = results.Single(r => r.Detector.Name == "paper absolute, calibrated");
        // Evaluated: seeds 3–5 only (1 and 2 calibrate).
        Assert.Equal([3, 4, 5, 3, 4, 5], calibrated.Runs.Select(o => o.Seed).ToArray());
        Assert.Equal(1.0, calibrated.CatchRate);
        Assert.Equal(0, calibrated.FalseAlarms);
        Assert.All(calibrated.Exploding, o => Assert.Equal("mid", o.FirstAlertLayer));
        // The collapse starts at 300 and is judged every 10 steps, 5 in a row: the alert comes 40–110 steps later, so
        // the lead is 40–110 steps less than the 150 steps between collapse and explosion.
        Assert.All(calibrated.Exploding, o => Assert.InRange(o.Lead!.Value, ExplodeAt - CollapseAt - 110, ExplodeAt - CollapseAt - 20));
        // A gradient-norm check has nothing to see before the explosion here.
        Assert.Equal(0, results.Single(r => r.Detector.Name == "grad-norm spike 6σ (OLMo)").CatchRate);

        string report = DetectorEvaluation.Report(results, settings, runs, "test");
        Assert.Contains("| paper absolute, calibrated | SA | 3/3 |", report, StringComparison.Ordinal);
        Assert.Contains("## Target", report, StringComparison.Ordinal);
        Assert.Contains("planted exploding s3 (E 450)", report, StringComparison.Ordinal);
    }

    [Fact]
    public void Replay_SameMeasurementsAsOnline_MatchesTheOnlineDetector()
    {
        var run = PlantedRun("exploding", 7);
        var options = new DetectionOptions { Rules = [new AbsoluteSignCollapseRule(), new LossSpikeRule()] };
        var offline = DetectorEvaluation.Replay(run, options, 5);

        // The same stream fed by hand, as SpectralMonitor.Step(signals) would: measurements first, then the signals.
        var detector = new CollapseDetector(options);
        var online = new List<CollapseAlert>();
        foreach (var step in run.Steps)
        {
            foreach (var name in run.Layers)
                online.AddRange(detector.Observe(run.Measurements[name].Where(m => m.Step == step.Step).FirstOrDefault() ?? Measurements.Bare(name, step.Step, MeasurementConditions.NoInput)).Where(a => a.Reason != AlertReasons.NonFinite));
            online.AddRange(detector.ObserveSignals(step.Step, new TrainingSignals(step.Loss, step.GradNorm)));
        }

        Assert.Equal(online.Select(a => (a.Layer, a.Step, a.Reason)), offline.Select(a => (a.Layer, a.Step, a.Reason)));
        // The loss is far beyond its window from the explosion on: OLMo's single-step check alerts at once.
        Assert.Contains(offline, a => a.Reason == AlertReasons.LossSpike && a.Step == ExplodeAt && a.EpisodeStartStep == ExplodeAt);
    }

    [Fact]
    public void GroundTruth_ExplosionStep_FollowsTheDefinition()
    {
        double[] losses = [5, 4, 3, .. Enumerable.Repeat(2.0, 120), 4.5];
        Assert.Equal(123, GroundTruth.FindExplosionStep(losses));
        Assert.Equal(2, GroundTruth.FindExplosionStep([3, 2, double.NaN]));
        Assert.Null(GroundTruth.FindExplosionStep([5, 12, 4, 3])); // a spike inside the settling period does not count
    }
}
