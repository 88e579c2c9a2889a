using SpectralAlign.Detection;
using SpectralAlign.Scenarios.Analysis;
using SpectralAlign.Scenarios.Evaluation;

namespace SpectralAlign.Tests.Evaluation;

public sealed class RuleReplayTests
{
    /// <summary>Scores a layer by its mean SA, except layer "a" at step 20 (no verdict there).</summary>
    private sealed class MeanRule() : LayerRule("Mean", threshold: 0.25)
    {
        protected internal override RuleScorer<LayerMeasurement> CreateScorer(string layer) => new Scorer(layer);

        private sealed class Scorer(string layer) : RuleScorer<LayerMeasurement>
        {
            public override double? Score(long step, LayerMeasurement input) => layer == "a" && step == 20 ? null : input.Stats.Mean;
        }
    }

    /// <summary>Scores the run by its gradient norm.</summary>
    private sealed class GradientRule() : RunRule("Gradient", threshold: 5)
    {
        protected internal override RuleScorer<TrainingSignals> CreateScorer() => new Scorer();

        private sealed class Scorer : RuleScorer<TrainingSignals>
        {
            public override double? Score(long step, TrainingSignals input) => input.GradientNorm;
        }
    }

    private static DetectionOptions HandOptions() => new()
    {
        WarmupSteps = 10,
        RecoveryMeasurements = 1,
        Rules = [new MeanRule { Persistence = 1 }, new GradientRule { Persistence = 1 }],
    };

    /// <summary>40 steps recorded every 5 steps; layer "a" has mean SA t/100, layer "b" −t/200; the gradient norm is 10
    /// at steps 25–27 and 1 elsewhere.</summary>
    private static RunData HandRun() => HorizonRuns.Make("f", "c", 1, steps: 40, gradNorm: t => t is >= 25 and <= 27 ? 10 : 1, absMean: t => t / 100.0);

    /// <summary>A record that repeats step 10 for layer "a" (a log appended to after resuming from an older
    /// checkpoint: first a stale copy with mean SA 0.9, then the step's own): both replays use the last copy, so they
    /// equal the replay of the record without the repetition (the stale copy alone would alarm at step 10).</summary>
    [Fact]
    public void Replay_RecordRepeatingAStep_UsesTheLastCopy()
    {
        var run = HandRun();
        var measurements = run.Measurements.ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal);
        var stale = new LayerMeasurement { Layer = "a", Step = 10, Stats = new SpectralAlignmentStats { Count = 8, Mean = 0.9 } };
        measurements["a"] = [.. run.Measurements["a"].SelectMany(m => m.Step == 10 ? [stale, m] : new[] { m })];
        var repeated = new RunData { Header = run.Header, Steps = run.Steps, Measurements = measurements, Alerts = run.Alerts, Summary = run.Summary };

        var expected = RuleReplay.Replay(run, HandOptions(), interval: 10);
        var replay = RuleReplay.Replay(repeated, HandOptions(), interval: 10);

        Assert.Equal(expected.Rules["Mean"].Scores, replay.Rules["Mean"].Scores);
        Assert.Equal(expected.Rules["Mean"].Alarms, replay.Rules["Mean"].Alarms);
        Assert.Equal(
            DetectorEvaluation.Replay(run, HandOptions(), interval: 10).Select(a => (a.Step, a.Layer, a.Reason)),
            DetectorEvaluation.Replay(repeated, HandOptions(), interval: 10).Select(a => (a.Step, a.Layer, a.Reason)));
    }

    [Fact]
    public void Replay_HandExample_HoldsTheLargestLayerScoreBetweenMeasuredSteps()
    {
        var replay = RuleReplay.Replay(HandRun(), HandOptions(), interval: 10);

        // Replayed steps 0, 10, 20, 30 (interval 10 of a record at interval 5); step 0 is in the warm-up. At step 10:
        // max(0.1, −0.05); at step 20 layer "a" gives no score, so only "b" (−0.1) holds one; at 30: max(0.3, −0.15).
        var expected = Enumerable.Range(0, 40).Select(t => t switch
        {
            < 10 => double.NaN,
            < 20 => 0.1,
            < 30 => -0.1,
            _ => 0.3,
        }).ToArray();
        Assert.Equal(expected, replay.Rules["Mean"].Scores, (x, y) => double.IsNaN(x) ? double.IsNaN(y) : Math.Abs(x - y) < 1e-12);

        // Threshold 0.25, persistence 1: only layer "a" at step 30 is anomalous; the episode lasts to the end.
        Assert.Equal(Enumerable.Range(0, 40).Select(t => t >= 30).ToArray(), replay.Rules["Mean"].Alarms);
    }

    [Fact]
    public void Replay_HandExample_RunScoresLiveForTheirStepAndEpisodesRecover()
    {
        var replay = RuleReplay.Replay(HandRun(), HandOptions(), interval: 10);

        Assert.Equal(Enumerable.Range(0, 40).Select(t => t < 10 ? double.NaN : t is >= 25 and <= 27 ? 10.0 : 1.0).ToArray(), replay.Rules["Gradient"].Scores);

        // Threshold 5, persistence 1, recovery 1: active at 25–27, re-armed by the normal verdict at 28.
        Assert.Equal(Enumerable.Range(0, 40).Select(t => t is >= 25 and <= 27).ToArray(), replay.Rules["Gradient"].Alarms);
        Assert.Equal(Enumerable.Range(0, 40).Select(t => t is >= 25 and <= 27 or >= 30).ToArray(), replay.AnyAlarm);
        Assert.DoesNotContain(true, replay.Rules[AlertReasons.NonFinite].Alarms!);
    }

    [Theory]
    [InlineData(5)]
    [InlineData(10)]
    public void Replay_LibraryRule_AlarmOnsetsAreTheAlertsOfAnIndependentReplay(int interval)
    {
        // A one-sided mean SA in both layers: the paper's thresholds fire in both at once, then stay (one onset).
        var run = HorizonRuns.Make("f", "c", 1, steps: 500, absMean: t => t >= 300 ? 0.6 : 0.05);
        var options = new DetectionOptions { Rules = [new AbsoluteSignCollapseRule()] };

        var replay = RuleReplay.Replay(run, options, interval);
        var alerts = DetectorEvaluation.Replay(run, options, interval);

        var onsets = run.Steps.Where((s, i) => replay.AnyAlarm[i] && (i == 0 || !replay.AnyAlarm[i - 1])).Select(s => s.Step).ToArray();
        Assert.NotEmpty(alerts);
        Assert.Equal(alerts.Select(a => a.Step).Distinct().ToArray(), onsets);
    }

    [Fact]
    public void Cached_SameKey_ReplaysOnce()
    {
        var run = HandRun();
        int created = 0;
        DetectionOptions Create()
        {
            created++;
            return HandOptions();
        }

        var first = RuleReplay.Cached(run, "k", Create, 10);
        var second = RuleReplay.Cached(run, "k", Create, 10);

        Assert.Same(first, second);
        Assert.Equal(1, created);
    }

    [Fact]
    public void LibraryRules_EveryDetector_ReturnsOneValuePerRecordedStep()
    {
        var run = HorizonRuns.Make("f", "c", 1, steps: 300, absMean: t => 0.1 + t / 1000.0);
        foreach (var detector in LibraryRules.Detectors)
        {
            foreach (var setting in detector.Settings)
            {
                var series = setting.Score(run);
                Assert.Equal(run.Steps.Count, series.Scores.Length);
                Assert.True(series.Alarms is null || series.Alarms.Length == run.Steps.Count, $"{detector.Name} / {setting.Name}");
            }
        }
    }
}
