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
        var access = new MonitorLayerAccess(monitor);
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

        var weight = new MonitorLayerAccess(monitor).FindWeight("conv", out _)!;

        Assert.Equal([2L, 3, 18], weight.View.shape);
        Assert.Equal(RawBytes(conv.weight!), RawBytes(weight.View));
    }

    [Fact]
    public void FindWeight_SlicesOrUnknownLayer_SaysWhy()
    {
        manual_seed(3);
        using var fused = nn.Linear(4, 12);
        using var monitor = new SpectralMonitor();
        monitor.WatchSlices(fused, "qkv", new("q", 0, 4), new("k", 4, 4), new("v", 8, 4));
        var access = new MonitorLayerAccess(monitor);

        Assert.Null(access.FindWeight("qkv.q", out var problem));
        Assert.Contains("slices", problem);
        Assert.Null(access.FindWeight("nowhere", out problem));
        Assert.Equal("not a watched layer", problem);
    }

    [Fact]
    public void CopyBasis_BeforeAndAfterTheFirstMeasurement()
    {
        manual_seed(4);
        using var fc = nn.Linear(6, 5);
        using var monitor = new SpectralMonitor(new SpectralMonitorOptions { Interval = 1 });
        var watch = monitor.Watch(fc, "fc");
        var access = new MonitorLayerAccess(monitor);
        Assert.Null(access.CopyBasis("fc"));

        fc.call(randn(16, 6));
        monitor.Step();

        using var basis = access.CopyBasis("fc")!;
        using var v1 = watch.CopySingularVector()!;
        Assert.Equal([1L, 6, 1], basis.shape);
        Assert.Equal(RawBytes(v1), RawBytes(basis.flatten()));
    }
}
