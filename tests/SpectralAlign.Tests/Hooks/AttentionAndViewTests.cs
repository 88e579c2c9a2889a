using SpectralAlign.Tests.Support;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace SpectralAlign.Tests.Hooks;

/// <summary>Layers that are not a plain Linear: MultiheadAttention's packed projections, fused qkv slices, a tied
/// LM head through selectors.</summary>
[Collection(TorchCollection.Name)]
public sealed class AttentionAndViewTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Watch_MultiheadAttention_QkvAndOutViewsMatchExplicitComputation(bool separateKeyValueWidths)
    {
        const int embed = 12, heads = 3, length = 5, batch = 4;
        manual_seed(1);
        using var attention = separateKeyValueWidths
            ? nn.MultiheadAttention(embed, heads, kdim: 8, vdim: 8)   // libtorch requires key and value of one width
            : nn.MultiheadAttention(embed, heads);
        int kdim = separateKeyValueWidths ? 8 : embed, vdim = kdim;
        using var query = Layers.Randn([length, batch, embed], ScalarType.Float32, seed: 2) + 0.4f;
        using var key = Layers.Randn([length + 2, batch, kdim], ScalarType.Float32, seed: 3) - 0.2f;
        using var value = Layers.Randn([length + 2, batch, vdim], ScalarType.Float32, seed: 4);

        using var harness = new MonitorHarness(new SpectralMonitorOptions { Interval = 1, MaxSamplesPerLayer = 1000, ResidualTolerance = 1e-5 });
        var watch = harness.Monitor.Watch(attention, "attn");
        Tensor output;
        using (no_grad())
            output = attention.call(query, key, value).Item1;
        harness.Monitor.Step();

        Assert.Equal(["attn.q", "attn.k", "attn.v", "attn.out"], watch.Layers);
        Assert.Equal("attn", watch.Name);
        var parameters = attention.named_parameters().ToDictionary(p => p.name, p => (Tensor)p.parameter);
        Tensor Wq, Wk, Wv;
        if (separateKeyValueWidths)
        {
            (Wq, Wk, Wv) = (parameters["q_proj_weight"], parameters["k_proj_weight"], parameters["v_proj_weight"]);
        }
        else
        {
            var packed = parameters["in_proj_weight"];
            (Wq, Wk, Wv) = (packed.narrow(0, 0, embed), packed.narrow(0, embed, embed), packed.narrow(0, 2 * embed, embed));
        }

        AssertView(watch, harness.Last("attn.q"), "attn.q", Wq, Reference.Rows(query));
        AssertView(watch, harness.Last("attn.k"), "attn.k", Wk, Reference.Rows(key));
        AssertView(watch, harness.Last("attn.v"), "attn.v", Wv, Reference.Rows(value));

        // The output projection's input, computed explicitly: per head softmax(QKᵀ/√d)·V, heads concatenated.
        var bias = parameters["in_proj_bias"];
        using var q = query.matmul(Wq.t()) + bias.narrow(0, 0, embed);
        using var k = key.matmul(Wk.t()) + bias.narrow(0, embed, embed);
        using var v = value.matmul(Wv.t()) + bias.narrow(0, 2 * embed, embed);
        int d = embed / heads;
        Tensor Heads(Tensor t) => t.reshape(t.shape[0], batch * heads, d).transpose(0, 1); // (N·h, L, d)
        using var scores = Heads(q).bmm(Heads(k).transpose(1, 2)) / Math.Sqrt(d);
        using var context = scores.softmax(-1).bmm(Heads(v)).transpose(0, 1).reshape(length, batch, embed);
        var Wo = parameters["out_proj.weight"];
        using (var reproduced = context.matmul(Wo.t()) + parameters["out_proj.bias"])
            Assert.True(reproduced.allclose(output, rtol: 1e-4, atol: 1e-5), "explicit attention does not reproduce the module's output");
        AssertView(watch, harness.Last("attn.out"), "attn.out", Wo, Reference.Rows(context), tolerance: 1e-3);
        output.Dispose();
    }

    [Fact]
    public void WatchSlices_FusedQkv_EachSliceMatchesItsRows()
    {
        const int d = 8;
        using var qkv = Layers.Gapped(3 * d, d, ScalarType.Float32, seed: 5);
        using var input = Layers.Randn([2, 7, d], ScalarType.Float32, seed: 6) + 0.3f;
        using var harness = new MonitorHarness(new SpectralMonitorOptions { Interval = 1, ResidualTolerance = 1e-5 });
        var watch = harness.Monitor.WatchSlices(qkv, "blocks.0.attn", new WeightSlice("q", 0, d), new WeightSlice("k", d, d), new WeightSlice("v", 2 * d, d));
        harness.Step(1, (qkv, input));

        Assert.Equal(["blocks.0.attn.q", "blocks.0.attn.k", "blocks.0.attn.v"], watch.Layers);
        var rows = Reference.Rows(input);
        for (int i = 0; i < 3; i++)
            AssertView(watch, harness.Last(watch.Layers[i]), watch.Layers[i], qkv.weight!.narrow(0, i * d, d), rows);
    }

    [Fact]
    public void WatchSlices_InvalidSlices_ListsEveryProblem()
    {
        using var qkv = nn.Linear(4, 12);
        using var monitor = new SpectralMonitor();
        var ex = Assert.Throws<ArgumentException>(() => monitor.WatchSlices(qkv, "attn", new WeightSlice("q", 0, 4), new WeightSlice("q", 4, 4), new WeightSlice("v", 10, 4)));
        Assert.Contains("distinct", ex.Message, StringComparison.Ordinal);
        Assert.Contains("outside", ex.Message, StringComparison.Ordinal);
        Assert.Empty(monitor.Watches);
    }

    [Theory]
    [InlineData(int.MaxValue, 1)]               // Start + Length overflows int
    [InlineData(1, int.MaxValue)]
    [InlineData(int.MaxValue, int.MaxValue)]
    [InlineData(12, 1)]                         // just past the 12 rows
    [InlineData(11, 2)]
    [InlineData(-1, 2)]
    [InlineData(int.MinValue, 1)]
    [InlineData(0, 0)]
    [InlineData(0, int.MinValue)]
    public void WatchSlices_SliceOutsideTheWeight_ThrowsNamingTheSlice(int start, int length)
    {
        using var qkv = nn.Linear(4, 12);
        using var monitor = new SpectralMonitor();
        var ex = Assert.Throws<ArgumentException>(() => monitor.WatchSlices(qkv, "attn", new WeightSlice("q", 0, 4), new WeightSlice("x", start, length)));
        Assert.Contains(FormattableString.Invariant($"slice 'x' [{start}, {(long)start + length}) is outside the weight's 12 rows"), ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("'q'", ex.Message, StringComparison.Ordinal);
        Assert.Empty(monitor.Watches);
    }

    [Fact]
    public void Watch_TiedEmbeddingHeadWithSelector_MeasuresEmbeddingMatrixAgainstHeadInputs()
    {
        using var model = new TiedLanguageModel(vocabulary: 20, width: 8);
        using var tokens = randint(0, 20, [3, 6], dtype: ScalarType.Int64, generator: new Generator(7));
        using var harness = new MonitorHarness(new SpectralMonitorOptions { Interval = 1, ResidualTolerance = 1e-5 });
        var monitor = harness.Monitor;
        Assert.Throws<ArgumentException>(() => monitor.Watch(model.embedding, "embedding"));   // not x·Wᵀ by itself
        var watch = monitor.Watch(model.head, "lm_head", () => model.embedding.weight!);
        Tensor hidden;
        using (no_grad())
        {
            hidden = model.embedding.call(tokens).tanh();
            model.head.call(hidden).Dispose();
        }

        monitor.Step();
        AssertView(watch, harness.Last("lm_head"), "lm_head", model.embedding.weight!, Reference.Rows(hidden));
        Assert.Equal(20, watch.OutFeatures);
        hidden.Dispose();
    }

    [Fact]
    public void Watch_SelectorReturningWrongShape_ThrowsClearError()
    {
        using var head = new TiedLanguageModel(4, 4);
        using var monitor = new SpectralMonitor();
        var ex = Assert.Throws<ArgumentException>(() => monitor.Watch(head.head, "h", () => ones(2, 3, 4)));
        Assert.Contains("2-D", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void WatchAll_AnyFilter_FindsAttentionConvolutionAndLinearInNestedContainers()
    {
        using var model = new Mixed();
        using var monitor = new SpectralMonitor();
        var watches = monitor.WatchAll(model, LayerFilter.Any);
        var layers = watches.SelectMany(w => w.Layers).Order().ToArray();
        Assert.Equal(["blocks.a.attn.k", "blocks.a.attn.out", "blocks.a.attn.q", "blocks.a.attn.v", "blocks.b.0", "head", "stem"], layers);
    }

    [Fact]
    public void LayerFilter_NamedAndOfType_Combine()
    {
        using var model = new Mixed();
        using var monitor = new SpectralMonitor();
        Assert.Equal(["blocks.a.attn", "blocks.b.0"], monitor.WatchAll(model, LayerFilter.Named("blocks.*.*")).Select(w => w.Name).Order().ToArray());
        Assert.Equal(["stem"], monitor.WatchAll(model, LayerFilter.OfType<Conv2d>()).Select(w => w.Name).ToArray());
        monitor.Dispose();
        using var other = new SpectralMonitor();
        Assert.Equal(["blocks.a.attn"], other.WatchAll(model, LayerFilter.Named("**.attn").And(LayerFilter.OfType<MultiheadAttention>())).Select(w => w.Name).ToArray());
        Assert.Equal(["head"], other.WatchAll(model, LayerFilter.Linear.And(LayerFilter.Named("blocks.**").Not())).Select(w => w.Name).ToArray());
    }

    private static void AssertView(LayerWatch watch, LayerMeasurement m, string layer, Tensor weight, double[][] rows, double tolerance = 2e-4)
    {
        var (v1, singular) = Reference.Svd(weight);
        using var ours = watch.CopySingularVector(layer)!;
        var mine = Reference.ToDoubles(ours);
        double cos = Reference.Cosine(v1, mine);
        Assert.True(Math.Abs(cos) > 0.9999, $"{layer}: |cos| {Math.Abs(cos)}");
        var expected = Reference.Stats(Reference.Alignments(rows, v1.Select(x => Math.Sign(cos) * x).ToArray()), 20);
        Reference.AssertMatches(expected, m.Stats, tolerance);
        Assert.Equal(singular[0], m.SpectralNorm, singular[0] * 1e-4);
        Assert.Equal(layer, m.Layer);
    }

    private sealed class TiedLanguageModel : nn.Module<Tensor, Tensor>
    {
        public readonly Embedding embedding;
        public readonly TiedHead head;

        public TiedLanguageModel(int vocabulary, int width) : base(nameof(TiedLanguageModel))
        {
            embedding = nn.Embedding(vocabulary, width);
            head = new TiedHead(embedding);
            RegisterComponents();
        }

        public override Tensor forward(Tensor tokens) => head.call(embedding.call(tokens));
    }

    /// <summary>logits = h·Eᵀ with the embedding matrix E.</summary>
    private sealed class TiedHead(Embedding embedding) : nn.Module<Tensor, Tensor>(nameof(TiedHead))
    {
        public override Tensor forward(Tensor hidden) => hidden.matmul(embedding.weight!.t());
    }

    private sealed class Block : nn.Module<Tensor, Tensor>
    {
        public readonly MultiheadAttention attn = nn.MultiheadAttention(8, 2);

        public Block() : base(nameof(Block)) => RegisterComponents();

        public override Tensor forward(Tensor x) => attn.call(x, x, x).Item1;
    }

    private sealed class Mixed : nn.Module<Tensor, Tensor>
    {
        public readonly Conv2d stem = nn.Conv2d(3, 8, 3);
        public readonly ModuleDict<nn.Module> blocks = new();
        public readonly Linear head = nn.Linear(8, 2);

        public Mixed() : base(nameof(Mixed))
        {
            blocks.Add(("a", new Block()));
            blocks.Add(("b", nn.Sequential(nn.Linear(8, 8), nn.ReLU(), nn.LayerNorm(8))));
            RegisterComponents();
        }

        public override Tensor forward(Tensor x) => head.call(x);
    }
}
