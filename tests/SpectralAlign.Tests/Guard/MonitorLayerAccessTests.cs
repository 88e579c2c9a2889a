using TorchSharp;
using SpectralAlign.Guard;
using SpectralAlign.Tests.Support;
using static SpectralAlign.Tests.Guard.GuardKit;
using static TorchSharp.torch;

namespace SpectralAlign.Tests.Guard;

/// <summary>The guard reaches each watched layer's live weight (a view: writing it writes the parameter) and its
/// monitor state.</summary>
[Collection(TorchCollection.Name)]
public sealed class MonitorLayerAccessTests
{
    [Fact]
    public void FindWeight_PackedAttention_ViewsTheRowsOfEachProjection()
    {
        manual_seed(1);
        using var attention = nn.MultiheadAttention(8, 2);
        using var monitor = new SpectralMonitor();
        monitor.Watch(attention, "attn");
        var access = new MonitorLayerAccess(monitor, attention);
        var packed = attention.named_parameters().Single(p => p.name == "in_proj_weight").parameter;

        Assert.Equal(["attn.q", "attn.k", "attn.v", "attn.out"], access.LayerNames);
        for (int i = 0; i < 3; i++)
        {
            var weight = access.FindWeight(access.LayerNames[i], out var problem)!;
            Assert.Null(problem);
            Assert.Same(packed, weight.Owner);
            Assert.Equal([1L, 8, 8], weight.View.shape);
            Assert.Equal(RawBytes(packed.narrow(0, 8 * i, 8)), RawBytes(weight.View[0]));
            using (no_grad())
                weight.View.fill_(i + 1);
            Assert.All(Doubles(packed.narrow(0, 8 * i, 8)), v => Assert.Equal(i + 1, v));
        }

        var output = access.FindWeight("attn.out", out _)!;
        Assert.Equal("out_proj.weight", attention.named_parameters().Single(p => ReferenceEquals(p.parameter, output.Owner)).name);
    }

    [Fact]
    public void FindWeight_GroupedConvolution_ViewsGroupsByOutputBlocks()
    {
        manual_seed(2);
        using var conv = nn.Conv2d(4, 6, 3, groups: 2);
        using var monitor = new SpectralMonitor();
        monitor.Watch(conv, "conv");

        var weight = new MonitorLayerAccess(monitor, conv).FindWeight("conv", out _)!;
        Assert.Same(conv.weight, weight.Owner);

        Assert.Equal([2L, 3, 18], weight.View.shape);
        Assert.Equal(RawBytes(conv.weight!), RawBytes(weight.View));
    }

    [Theory]
    [InlineData(ScalarType.Float32)]
    [InlineData(ScalarType.Float64)]
    [InlineData(ScalarType.BFloat16)]
    public void FindWeight_SlicesOfAFusedProjection_ViewTheirRowsOfTheSameParameter(ScalarType dtype)
    {
        manual_seed(3);
        using var fused = nn.Linear(4, 12);
        fused.to(dtype);
        using var monitor = new SpectralMonitor();
        monitor.WatchSlices(fused, "qkv", new("q", 0, 4), new("k", 4, 4), new("v", 8, 4));
        var access = new MonitorLayerAccess(monitor, fused);

        var k = access.FindWeight("qkv.k", out var problem)!;

        Assert.Null(problem);
        Assert.Same(fused.weight, k.Owner);
        Assert.Equal(RawBytes(fused.weight!.narrow(0, 4, 4)), RawBytes(k.View[0]));
        Assert.Null(access.FindWeight("nowhere", out problem));
        Assert.Equal("not a watched layer with a weight", problem);
    }

    [Fact]
    public void FindWeight_TiedHeadThroughASelector_FindsTheEmbeddingParameterInTheModel()
    {
        manual_seed(5);
        using var embedding = nn.Embedding(10, 6);
        using var head = nn.Linear(6, 10, hasBias: false);
        using var model = nn.Sequential(("embedding", embedding), ("head", head));
        using var monitor = new SpectralMonitor();
        monitor.Watch(head, "lm_head", () => embedding.weight!);

        var weight = new MonitorLayerAccess(monitor, model).FindWeight("lm_head", out _)!;

        // (Embedding hands out a new wrapper per access, so compare contents: the head's own weight has the same shape.)
        Assert.Equal(RawBytes(embedding.weight!), RawBytes(weight.Owner!));
        Assert.NotEqual(RawBytes(head.weight!), RawBytes(weight.Owner!));
    }

    [Fact]
    public void CopyBasis_BeforeAndAfterTheFirstMeasurement()
    {
        manual_seed(4);
        using var fc = nn.Linear(6, 5);
        using var monitor = new SpectralMonitor(new SpectralMonitorOptions { Interval = 1 });
        var watch = monitor.Watch(fc, "fc");
        var access = new MonitorLayerAccess(monitor, fc);
        Assert.Null(access.CopyBasis("fc"));

        fc.call(randn(16, 6));
        monitor.Step();

        using var basis = access.CopyBasis("fc")!;
        using var v1 = watch.CopySingularVector()!;
        Assert.Equal([1L, 6, 4], basis.shape);                   // the monitor's k = 4 warm basis, v1 first
        Assert.Equal(RawBytes(v1), RawBytes(basis[0, .., 0]));
    }
}
