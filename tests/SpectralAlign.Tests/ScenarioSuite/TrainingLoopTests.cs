using SpectralAlign.Scenarios.Training;
using SpectralAlign.Tests.Support;
using TorchSharp;
using static SpectralAlign.Tests.ScenarioSuite.ScenarioHarness;

namespace SpectralAlign.Tests.ScenarioSuite;

/// <summary>The step function, snapshots and clipping that evaluations drive the scenario runs with.</summary>
[Collection(TorchCollection.Name)]
public sealed class TrainingLoopTests
{
    private const int Steps = 40, SnapshotAt = 20;

    [Fact]
    public void Restore_AfterDivergentSteps_ContinuesBitForBitLikeTheOriginalRun()
    {
        var (straightLosses, straightWeights) = Straight("gpt-lottery", "edge", 3, Tiny(), Steps);

        var forked = Prepare("gpt-lottery", "edge", 3, Tiny());
        using (forked.Setup)
        {
            var before = RunUntil(forked, SnapshotAt);
            using var snapshot = forked.Snapshot();
            // Wander off: a 10x learning rate changes the weights, Adam's moments and its step counts.
            forked.LearningRateScale = 10;
            var wandered = RunUntil(forked, SnapshotAt + 10);
            forked.LearningRateScale = 1;
            forked.Restore(snapshot);
            Assert.Equal(SnapshotAt, forked.NextStep);
            var after = RunUntil(forked, Steps);

            Assert.NotEqual(straightLosses.Skip(SnapshotAt + 1).Take(9), wandered.Skip(1));
            Assert.Equal(straightLosses, before.Concat(after));
            Assert.Equal(straightWeights, Weights(forked.Setup));
        }
    }

    [Fact]
    public void Restore_IntoAFreshlyBuiltRun_ContinuesBitForBit()
    {
        var original = Prepare("gpt-lottery", "edge", 5, Tiny());
        using var originalSetup = original.Setup;
        RunUntil(original, SnapshotAt);
        using var snapshot = original.Snapshot();
        var expected = RunUntil(original, Steps);

        // Another initialisation (init_std 0.05): everything that matters must come from the snapshot (the data are step-indexed
        // from the run's seed, so the same seed is used).
        var fresh = Prepare("gpt-lottery", "edge", 5, Tiny(("init_std", "0.05")));
        using var freshSetup = fresh.Setup;
        fresh.Restore(snapshot);
        Assert.Equal(expected, RunUntil(fresh, Steps));
        Assert.Equal(Weights(originalSetup), Weights(freshSetup));
    }

    [Fact]
    public void Restore_SnapshotOfAnotherShape_ThrowsInvalidDataNamingTheTensor()
    {
        var small = Prepare("gpt-lottery", "edge", 1, Tiny());
        using var smallSetup = small.Setup;
        using var snapshot = small.Snapshot();
        var wide = Prepare("gpt-lottery", "edge", 1, Tiny(("ffn", "48")));
        using var wideSetup = wide.Setup;

        var ex = Assert.Throws<InvalidDataException>(() => wide.Restore(snapshot));
        Assert.Contains("ffn.gate.weight", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(1.0)]
    [InlineData(0.25)]
    public void Step_LearningRateScale_MultipliesTheScheduleInTheOptimizer(double scale)
    {
        var loop = Prepare("gpt-lottery", "edge", 1, Tiny(("warmup", "0"), ("lr", "0.02")));
        using var setup = loop.Setup;
        loop.LearningRateScale = scale;

        var result = loop.Step();

        Assert.Equal(0.02 * scale, result.LearningRate, 15);
        Assert.All(setup.Optimizer.ParamGroups, g => Assert.Equal(0.02 * scale, g.LearningRate, 15));
        Assert.Throws<ArgumentOutOfRangeException>(() => loop.LearningRateScale = 0);
    }

    [Fact]
    public void Step_NonFiniteLoss_SkipsTheUpdateAndKeepsGoing()
    {
        var loop = Prepare("gpt-lottery", "edge", 1, Tiny());
        using var setup = loop.Setup;
        using (torch.no_grad())
            setup.Model.parameters().First().fill_(float.NaN);
        var before = Weights(setup);

        var first = loop.Step();
        var second = loop.Step();

        Assert.True(double.IsNaN(first.Loss));
        Assert.True(double.IsNaN(first.GradNorm));
        Assert.Equal(1, second.Step);
        Assert.Equal(before, Weights(setup));
    }

    [Fact]
    public void NormClipping_NormAboveThreshold_ScalesGradientsToTheThreshold()
    {
        using var p = new TorchSharp.Modules.Parameter(torch.zeros(2));
        p.grad = torch.tensor(new float[] { 3, 4 }); // norm 5
        var clipping = new NormClipping(1);

        double after = clipping.Clip([p], 5);

        Assert.Equal(1, after, 5);
        Assert.Equal(new[] { 0.6f, 0.8f }, p.grad!.data<float>().ToArray(), (a, b) => Math.Abs(a - b) < 1e-6);
        Assert.Equal(0.5, clipping.Clip([p], 0.5));
        Assert.Throws<ArgumentOutOfRangeException>(() => new NormClipping(0));
    }

    [Fact]
    public void AdaptiveClipping_SpikeAfterWarmup_ClipsToTheReciprocalBound()
    {
        using var p = new TorchSharp.Modules.Parameter(torch.zeros(1));
        var clipping = new AdaptiveClipping { WarmupSteps = 4, Alpha = 0.5, ZThreshold = 2 };
        foreach (double g in new[] { 1.0, 3.0, 1.0, 3.0 })
            Assert.Equal(g, clipping.Clip([p], g)); // warm-up: μ = 2, σ = 1

        p.grad = torch.tensor(new float[] { 10 });
        double after = clipping.Clip([p], 10); // z = 8 → μ + (4 / 8)·σ = 2.5

        Assert.Equal(2.5, after, 12);
        Assert.Equal(2.5f, p.grad!.data<float>()[0], 5);
        Assert.Equal(1, clipping.ClippedSteps);
        // Statistics updated with the clipped norm: μ = 0.5·2 + 0.5·2.5 = 2.25, σ² = 0.5·1 + 0.5·(2.5 − 2.25)² = 0.53125.
        double sigma = Math.Sqrt(0.53125);
        Assert.Equal(2.25 + 4.0 / 3.0 * sigma, clipping.Clip([p], 2.25 + 3 * sigma), 12); // z = 3
        Assert.Equal(2, clipping.ClippedSteps);
    }
}
