using SpectralAlign.Detection;
using SpectralAlign.Scenarios.Models;
using SpectralAlign.Tests.Support;
using TorchSharp;
using static SpectralAlign.Tests.Support.Measurements;
using static TorchSharp.torch;

namespace SpectralAlign.Tests.Detection;

/// <summary>The attention-logit rules: the bound and its growth from hand-made σ1 values and row norms, the q/k
/// pairing on the names the scenario GPT and TorchSharp's MultiheadAttention get, and the bound against the true
/// logits of a MultiheadAttention.</summary>
[Collection(TorchCollection.Name)]
public sealed class AttentionLogitRuleTests
{
    private const double Tolerance = 1e-12;

    private static List<LayerMeasurement> Block(long step, double sigmaQ, double sigmaK, double normQ, double normK, string block = "blocks.0.attn") =>
    [
        M(step, sigma: sigmaQ, maxRowNorm: normQ, layer: block + ".q"),
        M(step, sigma: sigmaK, maxRowNorm: normK, layer: block + ".k"),
        M(step, sigma: 7, maxRowNorm: 100, layer: block + ".v"),
    ];

    [Fact]
    public void Bound_HandMadeFactors_IsTheProductOverRootHeadDimension()
    {
        // σ1(W_q) 2 · σ1(W_k) 5 · max‖x_q‖ 3 · max‖x_k‖ 4 / √16 = 30 (cross-attention: the two row norms differ).
        var detector = new CollapseDetector(Only(new AttentionLogitBoundRule { HeadDimension = 16, Threshold = 25 }));
        var alert = Assert.Single(detector.ObserveStep(0, Block(0, 2, 5, 3, 4)));
        var score = Assert.Single(detector.LastScores);
        Assert.Equal(("blocks.0.attn", AlertReasons.AttentionLogitBound), (score.Subject, score.Reason));
        Assert.Equal(30, score.Score, Tolerance);
        Assert.Equal("blocks.0.attn", alert.Layer);
        Assert.Contains("bounded by 30", alert.Detail, StringComparison.Ordinal);
        // Below the default threshold (100): scored, silent.
        var quiet = new CollapseDetector(Only(new AttentionLogitBoundRule { HeadDimension = 16 }));
        Assert.Empty(quiet.ObserveStep(0, Block(0, 2, 5, 3, 4)));
        Assert.Equal(30, Assert.Single(quiet.LastScores).Score, Tolerance);
    }

    [Fact]
    public void Growth_BoundDoublingWithinTheWindow_HandComputed()
    {
        // σ1(W_q) = 1 + t/100, the rest fixed: B(t) / B(t − 20) = (1 + t/100) / (1 + (t − 20)/100).
        var rule = new AttentionLogitGrowthRule { WindowSteps = 20, Threshold = 1.15 };
        var detector = new CollapseDetector(Only(rule));
        var scores = new List<double?>();
        var alerts = new List<CollapseAlert>();
        for (long t = 0; t <= 100; t += 10)
        {
            alerts.AddRange(detector.ObserveStep(t, Block(t, 1 + t / 100.0, 2, 3, 3)));
            scores.Add(detector.LastScores.Count == 0 ? null : detector.LastScores[0].Score);
        }

        Assert.Equal([null, null], scores.Take(2));   // the history reaches back 20 steps from t = 20 on
        for (int i = 2; i < scores.Count; i++)
            Assert.Equal((1 + i / 10.0) / (1 + (i - 2) / 10.0), scores[i]!.Value, Tolerance);
        // 1.2 / 1.0 ≥ 1.15 at t = 20; 1.3 / 1.1 = 1.18 at t = 30; 1.4 / 1.2 = 1.167 at t = 40; then below.
        var alert = Assert.Single(alerts);
        Assert.Equal((20L, "blocks.0.attn", AlertReasons.AttentionLogitGrowth), (alert.Step, alert.Layer, alert.Reason));
        Assert.Contains("attention-logit bound grew 1.20×", alert.Detail, StringComparison.Ordinal);
    }

    /// <summary>Six measured steps (one for "first measurement only") of a degenerate or constant block.</summary>
    private static List<LayerMeasurement>[] DegenerateRun(string name)
    {
        static bool IsKey(LayerMeasurement m) => m.Layer.EndsWith(".k", StringComparison.Ordinal);
        static List<LayerMeasurement> Growing(int i) => Block(i * 10, 1 + i, 2, 3, 3);
        Func<int, List<LayerMeasurement>> step = name switch
        {
            "missing key partner" => i => [.. Growing(i).Where(m => !IsKey(m))],
            "key partner not judged (no input)" => i => [.. Growing(i).Select(m => IsKey(m) ? M(m.Step, layer: m.Layer, conditions: MeasurementConditions.NoInput) : m)],
            "partner of another block" => i => [.. Growing(i).Select(m => IsKey(m) ? M(m.Step, layer: "blocks.1.attn.k") : m)],
            "NaN row norm" => i => Block(i * 10, 1 + i, 2, double.NaN, 3),
            "infinite σ1 without the flag" => i => Block(i * 10, double.PositiveInfinity, 2, 3, 3),
            "no valid rows: row norm 0" => i => Block(i * 10, 1 + i, 2, 0, 0),
            "first measurement only" => i => Block(0, 1000, 1000, 1000, 1000),
            "constant bound" => i => Block(i * 10, 2, 2, 3, 3),
            _ => throw new ArgumentException(name, nameof(name)),
        };
        return [.. Enumerable.Range(0, name == "first measurement only" ? 1 : 6).Select(step)];
    }

    [Theory]
    [InlineData("missing key partner")]
    [InlineData("key partner not judged (no input)")]
    [InlineData("partner of another block")]
    [InlineData("NaN row norm")]
    [InlineData("infinite σ1 without the flag")]
    [InlineData("no valid rows: row norm 0")]   // bound 0: growth is not judged
    [InlineData("first measurement only")]
    [InlineData("constant bound")]
    public void Growth_DegenerateOrConstant_NeverAlerts(string name)
    {
        var detector = new CollapseDetector(Only(new AttentionLogitGrowthRule { WindowSteps = 10, Threshold = 1.01 }));
        foreach (var step in DegenerateRun(name))
        {
            Assert.Empty(detector.ObserveStep(step[0].Step, step));
            Assert.All(detector.LastScores, s => Assert.Equal(1.0, s.Score, Tolerance));   // only the constant bound is judged
        }

        Assert.Equal(name == "constant bound", detector.LastScores.Count == 1);
    }

    [Theory]
    [InlineData("missing key partner", false)]
    [InlineData("key partner not judged (no input)", false)]
    [InlineData("NaN row norm", false)]
    [InlineData("infinite σ1 without the flag", false)]
    [InlineData("no valid rows: row norm 0", true)]
    public void Bound_Degenerate_NotJudgedOrZero(string name, bool scoredZero)
    {
        var step = DegenerateRun(name)[0];
        var detector = new CollapseDetector(Only(new AttentionLogitBoundRule { Threshold = 0.5 }));
        Assert.Empty(detector.ObserveStep(0, step));
        if (scoredZero)
            Assert.Equal(0, Assert.Single(detector.LastScores).Score);
        else
            Assert.Empty(detector.LastScores);
    }

    [Fact]
    public void Group_ScenarioGptNames_PairsEachBlocksQueryAndKey()
    {
        manual_seed(5);
        using var model = new GptLanguageModel(new GptOptions { Vocab = 11, Context = 8, Dim = 16, Heads = 2, Layers = 2, FfnHidden = 24 });
        using var monitor = new SpectralMonitor(new SpectralMonitorOptions { Interval = 1 });
        var names = monitor.WatchAll(model).SelectMany(w => w.Layers).ToList();
        Assert.Contains("blocks.1.attn.q", names);

        var groups = new AttentionLogitBoundRule().Group([.. names.Select(n => M(0, layer: n))]).ToList();
        Assert.Equal(["blocks.0.attn", "blocks.1.attn"], groups.Select(g => g.Group));
        Assert.All(groups, g => Assert.Equal([g.Group + ".q", g.Group + ".k"], g.Members.Select(m => m.Layer)));
    }

    [Fact]
    public void Bound_MultiheadAttention_MatchesSvdAndRowNorms_AndBoundsTheTrueLogits()
    {
        // Cross-attention (query and key rows differ) through the monitor's MultiheadAttention adapter, every row
        // sampled; the reference: σ1 from a float64 SVD, row norms and logits computed on the host.
        const int embed = 12, heads = 3, length = 5, batch = 4;
        manual_seed(7);
        using var attention = nn.MultiheadAttention(embed, heads);
        using var query = Layers.Randn([length, batch, embed], ScalarType.Float32, seed: 8) * 2;
        using var key = Layers.Randn([length + 2, batch, embed], ScalarType.Float32, seed: 9) + 0.5f;
        using var harness = new MonitorHarness(new SpectralMonitorOptions { Interval = 1, MaxSamplesPerLayer = 1000, ResidualTolerance = 1e-6 });
        harness.Monitor.Watch(attention, "attn");
        using (no_grad())
            attention.call(query, key, key).Item1.Dispose();
        harness.Monitor.Step();
        var measured = harness.Measurements;

        var detector = new CollapseDetector(new DetectionOptions { WarmupSteps = 0, MinSamples = 1, Rules = [new AttentionLogitBoundRule { HeadDimension = embed / heads }] });
        detector.ObserveStep(measured[0].Step, measured);
        var score = Assert.Single(detector.LastScores);
        Assert.Equal("attn", score.Subject);

        var packed = attention.named_parameters().Single(p => p.name == "in_proj_weight").parameter;
        using var wq = packed.narrow(0, 0, embed).detach();
        using var wk = packed.narrow(0, embed, embed).detach();
        var (_, sq) = Reference.Svd(wq);
        var (_, sk) = Reference.Svd(wk);
        var xq = Reference.Rows(query);
        var xk = Reference.Rows(key);
        double expected = sq[0] * sk[0] * xq.Max(Reference.Norm) * xk.Max(Reference.Norm) / Math.Sqrt(embed / heads);
        Assert.Equal(expected, score.Score, expected * 1e-4);

        // Every logit of every head, without biases (the bound ignores them; they start at zero): |q_h·k_h| / √d ≤ B.
        var q = Reference.Rows(query.matmul(wq.t()));
        var k = Reference.Rows(key.matmul(wk.t()));
        int d = embed / heads;
        double maxLogit = 0;
        for (int h = 0; h < heads; h++)
        {
            foreach (var qi in q)
            {
                foreach (var kj in k)
                    maxLogit = Math.Max(maxLogit, Math.Abs(Reference.Dot(qi[(h * d)..((h + 1) * d)], kj[(h * d)..((h + 1) * d)])) / Math.Sqrt(d));
            }
        }

        Assert.InRange(maxLogit, 1e-3, score.Score);
    }

    [Fact]
    public void Settings_Invalid_AreListedTogether()
    {
        var problems = Only(new AttentionLogitGrowthRule { QuerySuffix = ".x", KeySuffix = ".x", HeadDimension = 0, WindowSteps = 0 }).Validate();
        Assert.Equal(3, problems.Count);
    }
}
