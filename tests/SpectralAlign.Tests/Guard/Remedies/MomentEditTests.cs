using SpectralAlign.Guard.Remedies;
using SpectralAlign.Tests.Support;
using TorchSharp;
using TorchSharp.Modules;
using static SpectralAlign.Tests.Guard.GuardKit;
using static TorchSharp.torch;

namespace SpectralAlign.Tests.Guard.Remedies;

/// <summary>The optimizer-state policies, on the elements a weight view covers and nowhere else.</summary>
[Collection(TorchCollection.Name)]
public sealed class MomentEditTests
{
    /// <summary>A 12×6 Linear trained a few steps, so that every moment is non-zero.</summary>
    private static (Linear Layer, OptimizerHelper Optimizer) Trained(string optimizer)
    {
        manual_seed(7);
        var layer = nn.Linear(6, 12, hasBias: false);
        var opt = Optimizer(optimizer, layer.parameters(), 1e-2);
        var x = randn(32, 6, generator: new Generator(8));
        for (int i = 0; i < 4; i++)
        {
            opt.zero_grad();
            layer.call(x).square().mean().backward();
            opt.step();
        }

        return (layer, opt);
    }

    /// <summary>Each moment of the layer's weight as a host float64 copy: first moment, then second (none for SGD).</summary>
    private static (double[] First, double[]? Second, long Step) Moments(OptimizerHelper optimizer) => optimizer.state_dict().State[0] switch
    {
        Adam.State a => (Doubles(a.exp_avg), Doubles(a.exp_avg_sq), a.step),
        AdamW.State a => (Doubles(a.exp_avg), Doubles(a.exp_avg_sq), a.step),
        SGD.State s => (Doubles(s.momentum_buffer), null, 0),
        var other => throw new InvalidOperationException(other.GetType().Name),
    };

    [Theory]
    [MemberData(nameof(GuardKit.Optimizers), MemberType = typeof(GuardKit))]
    public void Apply_ResetOnRowSlice_ZeroesOnlyThoseRowsAndKeepsTheSharedStep(string optimizer)
    {
        var (layer, opt) = Trained(optimizer);
        using var scope = NewDisposeScope();
        var before = Moments(opt);
        var slice = layer.weight!.narrow(0, 4, 4).view(1, 4, 6);     // rows 4..7

        Assert.Null(MomentEdit.TryPrepare(opt, layer.weight!, slice, out var edit));
        edit!.Apply(MomentPolicy.Reset, 0.1);

        var after = Moments(opt);
        for (int i = 0; i < 72; i++)
        {
            bool inside = i / 6 is >= 4 and < 8;
            Assert.Equal(inside ? 0 : before.First[i], after.First[i]);
            if (before.Second is not null)
                Assert.Equal(inside ? 0 : before.Second[i], after.Second![i]);
        }

        Assert.Equal(before.Step, after.Step);
        Assert.Contains(before.First.Where((_, i) => i / 6 is >= 4 and < 8), v => v != 0);
    }

    [Theory]
    [MemberData(nameof(GuardKit.Optimizers), MemberType = typeof(GuardKit))]
    public void Apply_ResetOnWholeParameter_RestartsTheParametersState(string optimizer)
    {
        var (layer, opt) = Trained(optimizer);
        using var scope = NewDisposeScope();

        Assert.Null(MomentEdit.TryPrepare(opt, layer.weight!, layer.weight!.view(1, 12, 6), out var edit));
        edit!.Apply(MomentPolicy.Reset, 0.1);

        var after = Moments(opt);
        Assert.All(after.First, v => Assert.Equal(0, v));
        Assert.All(after.Second ?? [], v => Assert.Equal(0, v));
        Assert.Equal(0, after.Step);
    }

    [Theory]
    [MemberData(nameof(GuardKit.Optimizers), MemberType = typeof(GuardKit))]
    public void Apply_Rescale_ScalesFirstMomentOfTheSliceOnly(string optimizer)
    {
        var (layer, opt) = Trained(optimizer);
        using var scope = NewDisposeScope();
        var before = Moments(opt);
        var slice = layer.weight!.narrow(0, 0, 3).view(1, 3, 6);

        Assert.Null(MomentEdit.TryPrepare(opt, layer.weight!, slice, out var edit));
        edit!.Apply(MomentPolicy.Rescale, 0.25);

        var after = Moments(opt);
        for (int i = 0; i < 72; i++)
        {
            double expected = i < 18 ? (double)(float)(before.First[i] * 0.25) : before.First[i];
            Assert.Equal(expected, after.First[i], Math.Abs(expected) * 1e-6);
            if (before.Second is not null)
                Assert.Equal(before.Second[i], after.Second![i]);
        }

        Assert.Equal(before.Step, after.Step);
    }

    [Fact]
    public void TryPrepare_OptimizerWithoutKnownMoments_SaysWhy()
    {
        manual_seed(1);
        var layer = nn.Linear(4, 4);
        using var rms = optim.RMSProp(layer.parameters(), 1e-3);

        var problem = MomentEdit.TryPrepare(rms, layer.weight!, layer.weight!.view(1, 4, 4), out var edit);

        Assert.Null(edit);
        Assert.Contains("RMSProp", problem);
    }
}
