using System.Text.Json.Nodes;
using SpectralAlign.Detection;
using SpectralAlign.Tests.Support;
using static SpectralAlign.Tests.Support.Measurements;

namespace SpectralAlign.Tests.Detection;

/// <summary>The detector's checkpoint state: every kind of rule resumes exactly, and bad documents are rejected
/// naming the field.</summary>
public sealed class DetectorStateTests
{
    private static DetectionOptions AllKinds() => new()
    {
        WarmupSteps = 20,
        ConsecutiveMeasurements = 2,
        Rules =
        [
            new BaselineRelativeRule { BaselineMeasurements = 5 },
            new RollingBaselineRule { LagSteps = 30, WindowSteps = 60, MinBaselineMeasurements = 4 },
            new AlignedAccelerationRule { WindowSteps = 40 },
            new SpectralNormGrowthRule { WindowSteps = 50 },
            new TestRules.ProductRule(),
            new LossSpikeRule { WindowSteps = 30, MinSamples = 10 },
            new GradientNormEmaRule { WarmupSamples = 10 },
            new UpdateRatioRule { WindowSteps = 60, MinMeasurements = 3 },
            new AttentionLogitGrowthRule { QuerySuffix = ".a", KeySuffix = ".b", WindowSteps = 40 },
            new JacobianAlignmentRule { LagSteps = 30, WindowSteps = 60, MinBaselineMeasurements = 4 },
        ],
    };

    /// <summary>A run of two paired layers: SA drifts to one side and σ1 grows faster and faster after step 150;
    /// loss and gradient norm noisy, with a spike.</summary>
    private static List<(long Step, List<LayerMeasurement> Measurements, TrainingSignals Signals)> Run()
    {
        var random = new Random(11);
        var run = new List<(long, List<LayerMeasurement>, TrainingSignals)>();
        for (long step = 0; step < 300; step++)
        {
            var measured = new List<LayerMeasurement>();
            if (step % 10 == 0)
            {
                double drift = Math.Max(0, step - 150) / 150.0;
                double sigma = Math.Exp(3 * drift * drift);
                double ratio = step == 0 ? double.NaN : 1e-3 * (1 + 5 * drift + random.NextDouble());
                measured.Add(M(step, mean: 0.05 + 0.8 * drift + 0.02 * random.NextDouble(), diversity: 0.9 - 0.8 * drift, sigma: sigma, layer: "b.a", updateRatio: ratio, maxRowNorm: 3));
                measured.Add(M(step, mean: 0.05 + 0.02 * random.NextDouble(), sigma: 2 + step / 100.0, layer: "b.b", updateRatio: ratio, maxRowNorm: 2 + random.NextDouble(), upstream: 0.1 + (step >= 200 ? 0.6 : 0) + 0.05 * random.NextDouble()));
            }

            var signals = new TrainingSignals(Loss: step == 200 ? 9 : 2 + 0.1 * random.NextDouble(), GradientNorm: step == 250 ? 30 : 1 + 0.2 * random.NextDouble());
            run.Add((step, measured, signals));
        }

        return run;
    }

    [Fact]
    public void LoadState_ResumedMidRun_SameScoresAndAlertsAsUninterrupted()
    {
        var run = Run();
        var uninterrupted = new CollapseDetector(AllKinds());
        var expected = run.Select(s => (Alerts: uninterrupted.ObserveStep(s.Step, s.Measurements, s.Signals).Select(a => (a.Layer, a.Step, a.Reason, a.EpisodeStartStep)).ToList(), Scores: uninterrupted.LastScores.ToList())).ToList();
        Assert.Contains(expected.SelectMany(e => e.Alerts), a => a.Reason == AlertReasons.AlignedAcceleration);
        Assert.Contains(expected.SelectMany(e => e.Scores), s => s.Reason == AlertReasons.UpdateRatioJump);
        Assert.Contains(expected.SelectMany(e => e.Alerts), a => a.Reason == AlertReasons.JacobianAlignment && a.Layer == "b.b");
        Assert.Contains(expected.SelectMany(e => e.Scores), s => s.Reason == AlertReasons.AttentionLogitGrowth && s.Subject == "b");

        foreach (int cut in new[] { 25, 155, 215 })
        {
            var first = new CollapseDetector(AllKinds());
            foreach (var s in run.Take(cut))
                first.ObserveStep(s.Step, s.Measurements, s.Signals);
            string saved = first.SaveState().ToJsonString();

            var resumed = new CollapseDetector(AllKinds());
            Assert.Empty(resumed.LoadState(JsonNode.Parse(saved)));
            for (int i = cut; i < run.Count; i++)
            {
                var alerts = resumed.ObserveStep(run[i].Step, run[i].Measurements, run[i].Signals).Select(a => (a.Layer, a.Step, a.Reason, a.EpisodeStartStep)).ToList();
                Assert.Equal(expected[i].Alerts, alerts);
                Assert.Equal(expected[i].Scores, resumed.LastScores);
            }
        }
    }

    [Fact]
    public void LoadState_RuleMissingOrStateNotFitting_StartsAfreshAndIsListed()
    {
        var options = Only(new BaselineRelativeRule { BaselineMeasurements = 3 });
        var detector = new CollapseDetector(options);
        Feed(detector, Enumerable.Range(0, 5).Select(i => M(i)));
        var state = detector.SaveState();
        state["layers"]!["l"]!["rules"]![0]!["scorer"] = new JsonArray(1.0, 2.0, 3.0);   // odd: cannot be restored

        var other = Only(new BaselineRelativeRule { BaselineMeasurements = 3 }, new AbsoluteSignCollapseRule());
        var problems = new CollapseDetector(other).LoadState(state);
        Assert.Equal(2, problems.Count);
        Assert.Contains(problems, p => p.Contains("'SignCollapse' starts afresh", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.Contains("no saved state for rule 'AbsoluteSignCollapse'", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("rolling", "(step, |mean SA|, diversity) triples (got 4 numbers)")]
    [InlineData("jacobian", "(step, alignment) pairs (got 3 numbers)")]
    public void LoadState_LaggedWindowNotWholeTuples_StartsAfreshNamingTheTuple(string kind, string expected)
    {
        DetectionRule Rule() => kind == "rolling"
            ? new RollingBaselineRule { LagSteps = 20, WindowSteps = 30, MinBaselineMeasurements = 2 }
            : new JacobianAlignmentRule { LagSteps = 20, WindowSteps = 30, MinBaselineMeasurements = 2 };
        var detector = new CollapseDetector(Only(Rule()));
        Feed(detector, Enumerable.Range(0, 5).Select(i => M(i * 10, upstream: 0.1)));
        var state = detector.SaveState();
        var saved = state["layers"]!["l"]!["rules"]![0]!["scorer"]!.AsArray();
        Assert.Equal(kind == "rolling" ? 15 : 10, saved.Count);   // five (step, fields…) tuples: 0, 10, …, 40 first
        Assert.Equal([0.0, 10, 20, 30, 40], saved.Select(n => n!.GetValue<double>()).Where((_, i) => i % (kind == "rolling" ? 3 : 2) == 0));
        state["layers"]!["l"]!["rules"]![0]!["scorer"] = new JsonArray([.. saved.Take(kind == "rolling" ? 4 : 3).Select(n => n!.DeepClone())]);

        var problem = Assert.Single(new CollapseDetector(Only(Rule())).LoadState(state));
        Assert.EndsWith($"its scorer cannot restore the saved state (The history needs {expected}.)", problem, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("layers")]
    [InlineData("run")]
    [InlineData("nonFinite")]
    [InlineData("episode")]
    [InlineData("normalRun")]
    [InlineData("reason")]
    public void LoadState_MissingField_ThrowsInvalidDataNamingIt(string field)
    {
        var detector = new CollapseDetector(Only(new BaselineRelativeRule(), new LossSpikeRule()));
        Feed(detector, [M(0)]);
        var state = detector.SaveState();
        Remove(state, field);
        var ex = Assert.Throws<InvalidDataException>(() => new CollapseDetector().LoadState(state));
        Assert.Contains(field, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void LoadState_BadValue_ThrowsInvalidDataNamingIt()
    {
        var detector = new CollapseDetector(Only(new BaselineRelativeRule()));
        Feed(detector, [M(0)]);
        var state = detector.SaveState();
        state["layers"]!["l"]!["rules"]![0]!["episode"]!["anomalousRun"] = "many";
        var ex = Assert.Throws<InvalidDataException>(() => new CollapseDetector().LoadState(state));
        Assert.Contains("anomalousRun", ex.Message, StringComparison.Ordinal);
        Assert.Throws<InvalidDataException>(() => new CollapseDetector().LoadState(null));
        Assert.Throws<InvalidDataException>(() => new CollapseDetector().LoadState(JsonValue.Create(3)));
    }

    [Theory]
    [InlineData("layers.b.a.nonFinite", "anomalousRun", -1000000)]
    [InlineData("layers.b.a.nonFinite", "normalRun", -1)]
    [InlineData("layers.b.b.rules[0].episode", "anomalousRun", -1)]
    [InlineData("layers.b.b.rules[0].episode", "normalRun", int.MinValue)]
    [InlineData("groups[0].episode", "anomalousRun", -7)]
    [InlineData("groups[0].episode", "normalRun", -1)]
    [InlineData("run[0].episode", "anomalousRun", -1000000)]
    [InlineData("run[0].episode", "normalRun", -2)]
    public void LoadState_NegativeEpisodeCounter_ThrowsInvalidDataNamingIt(string episode, string counter, int value)
    {
        DetectionOptions Options() => Only(new BaselineRelativeRule(), new TestRules.ProductRule(), new LossSpikeRule());
        var detector = new CollapseDetector(Options());
        detector.ObserveStep(0, [M(0, layer: "b.a"), M(0, layer: "b.b")], new TrainingSignals(Loss: 1));
        var state = detector.SaveState();
        var node = episode switch
        {
            "layers.b.a.nonFinite" => state["layers"]!["b.a"]!["nonFinite"]!,
            "layers.b.b.rules[0].episode" => state["layers"]!["b.b"]!["rules"]![0]!["episode"]!,
            "groups[0].episode" => state["groups"]![0]!["episode"]!,
            _ => state["run"]![0]!["episode"]!,
        };
        node[counter] = value;

        var loading = new CollapseDetector(Options());
        var ex = Assert.Throws<InvalidDataException>(() => loading.LoadState(state));
        Assert.Contains(FormattableString.Invariant($"'{episode}.{counter}' must be >= 0 (was {value})"), ex.Message, StringComparison.Ordinal);
        Assert.Empty(loading.LoadState(detector.SaveState()));   // the same state with its counters intact loads
    }

    [Fact]
    public void SaveState_EpisodeCountersAtIntMax_StayThereAndLoadAgain()
    {
        // A run of verdicts longer than int.MaxValue must not wrap the counter negative: the state would then be refused.
        var detector = new CollapseDetector(Only(new TestRules.AlwaysFires()));
        detector.ObserveStep(0, [M(0)]);
        var state = detector.SaveState();
        state["layers"]!["l"]!["nonFinite"]!["normalRun"] = int.MaxValue;
        state["layers"]!["l"]!["rules"]![0]!["episode"]!["anomalousRun"] = int.MaxValue;
        Assert.Empty(detector.LoadState(state));

        detector.ObserveStep(1, [M(1)]);   // one more normal (finite) and anomalous (always) verdict
        var saved = detector.SaveState();
        Assert.Equal(int.MaxValue, saved["layers"]!["l"]!["nonFinite"]!["normalRun"]!.GetValue<int>());
        Assert.Equal(int.MaxValue, saved["layers"]!["l"]!["rules"]![0]!["episode"]!["anomalousRun"]!.GetValue<int>());
        Assert.Empty(new CollapseDetector(Only(new TestRules.AlwaysFires())).LoadState(saved));
    }

    [Theory]
    [InlineData("layers.l")]
    [InlineData("layers.l.rules[0]")]
    [InlineData("run[0]")]
    public void LoadState_NullEntry_ThrowsInvalidDataNamingIt(string path)
    {
        var detector = new CollapseDetector(Only(new BaselineRelativeRule(), new LossSpikeRule()));
        Feed(detector, [M(0)]);
        var state = detector.SaveState();
        if (state["run"]!.AsArray().Count == 0)
            state["run"]!.AsArray().Add(JsonNode.Parse("{}"));   // the path must exist to be nulled
        switch (path)
        {
            case "layers.l":
                state["layers"]!["l"] = null;
                break;
            case "layers.l.rules[0]":
                state["layers"]!["l"]!["rules"]![0] = null;
                break;
            default:
                state["run"]![0] = null;
                break;
        }

        var ex = Assert.Throws<InvalidDataException>(() => new CollapseDetector(Only(new BaselineRelativeRule(), new LossSpikeRule())).LoadState(state));
        Assert.Contains(path, ex.Message, StringComparison.Ordinal);
    }

    /// <summary>Removes the first property of that name, searching depth-first.</summary>
    private static bool Remove(JsonNode? node, string name)
    {
        switch (node)
        {
            case JsonObject o when o.ContainsKey(name):
                o.Remove(name);
                return true;
            case JsonObject o:
                return o.Select(p => p.Value).ToList().Any(v => Remove(v, name));
            case JsonArray a:
                return a.Any(v => Remove(v, name));
            default:
                return false;
        }
    }
}
