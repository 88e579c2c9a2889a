using SpectralAlign.Guard.LearningRate;
using SpectralAlign.Tests.Support;
using TorchSharp.Modules;
using static SpectralAlign.Tests.Guard.GuardKit;
using static TorchSharp.torch;

namespace SpectralAlign.Tests.Guard.LearningRate;

/// <summary>The factor goes through the parameter groups, composes with whoever else sets the rate, and returning to 1
/// restores the exact rate when nobody else touched it.</summary>
[Collection(TorchCollection.Name)]
public sealed class LearningRateScalerTests
{
    private static (Sequential Model, OptimizerHelper Optimizer) TwoGroups()
    {
        var model = Mlp(seed: 1);
        var groups = new[]
        {
            new Adam.ParamGroup(model.named_parameters().Where(p => p.name.StartsWith("fc", StringComparison.Ordinal)).Select(p => p.parameter), lr: 3e-3),
            new Adam.ParamGroup(model.named_parameters().Where(p => !p.name.StartsWith("fc", StringComparison.Ordinal)).Select(p => p.parameter), lr: 7e-4),
        };
        return (model, optim.Adam(groups, 1e-3));
    }

    private static double[] Rates(optim.Optimizer o) => o.ParamGroups.Select(g => g.LearningRate).ToArray();

    [Fact]
    public void SetScale_EveryGroupScaled_AndBackToOneIsExact()
    {
        var (model, optimizer) = TwoGroups();
        using var _ = model;
        var scaler = new LearningRateScaler(optimizer);

        foreach (var s in new[] { 0.5, 0.37, 0.81, 0.999 })
        {
            scaler.SetScale(s);
            Assert.Equal(new[] { 3e-3 * s, 7e-4 * s }, Rates(optimizer));
            Assert.Equal(s, scaler.Scale);
        }

        scaler.SetScale(1);
        Assert.Equal(new[] { 3e-3, 7e-4 }, Rates(optimizer));   // exactly, not 3e-3·0.999/0.999
    }

    [Fact]
    public void SetScale_LoopSetsScaledRateEveryStep_ScalerComposesWithIt()
    {
        using var model = Mlp(seed: 1);
        using var optimizer = optim.SGD(model.parameters(), 0.1);
        var group = optimizer.ParamGroups.Single();
        var scaler = new LearningRateScaler(optimizer);
        scaler.SetScale(0.5);

        // The loop's own schedule: base 0.08, multiplied by the guard's factor as documented.
        group.LearningRate = 0.08 * scaler.Scale;
        scaler.SetScale(0.25);
        Assert.Equal(0.08 * 0.25, group.LearningRate, 1e-15);
        group.LearningRate = 0.06 * scaler.Scale;
        scaler.SetScale(1);
        Assert.Equal(0.06, group.LearningRate, 1e-15);
    }

    [Fact]
    public void SetScale_ChainableSchedulerBetweenChanges_ComposesMultiplicatively()
    {
        using var model = Mlp(seed: 1);
        using var optimizer = optim.SGD(model.parameters(), 0.1);
        var scheduler = optim.lr_scheduler.StepLR(optimizer, step_size: 1, gamma: 0.5);
        var scaler = new LearningRateScaler(optimizer);

        scaler.SetScale(0.1);            // 0.1 → 0.01
        scheduler.step();                // StepLR multiplies the rate in force: 0.005
        scaler.SetScale(1);              // the guard's factor is lifted: 0.05 = the scheduler's own value

        Assert.Equal(0.05, optimizer.ParamGroups.Single().LearningRate, 1e-15);
    }

    [Fact]
    public void SetScale_NotPositive_Throws()
    {
        using var model = Mlp(seed: 1);
        using var optimizer = optim.SGD(model.parameters(), 0.1);
        var scaler = new LearningRateScaler(optimizer);

        Assert.Throws<ArgumentOutOfRangeException>(() => scaler.SetScale(0));
        Assert.Throws<ArgumentOutOfRangeException>(() => scaler.SetScale(double.NaN));
        Assert.Equal(0.1, optimizer.ParamGroups.Single().LearningRate);
    }
}
