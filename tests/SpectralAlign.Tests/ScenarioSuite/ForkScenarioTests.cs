using SpectralAlign.Scenarios;
using SpectralAlign.Scenarios.Training;
using SpectralAlign.Tests.Support;
using TorchSharp;
using static SpectralAlign.Tests.ScenarioSuite.ScenarioHarness;

namespace SpectralAlign.Tests.ScenarioSuite;

/// <summary>The fork scenario: shared base, triggers from the fork step, snapshot-based branching.</summary>
[Collection(TorchCollection.Name)]
public sealed class ForkScenarioTests
{
    private const int Fork = 20, Steps = 40;

    /// <summary>A toy fork: warm-up 5, fork at 20, 40 steps, batch 8 (shock_rows = 8 fills every row); later pairs override earlier ones.</summary>
    private static List<KeyValuePair<string, string>> Small(params (string Key, string Value)[] extra) =>
        Tiny([("warmup", "5"), ("fork_step", "20"), ("steps", "40"), ("batch", "8"), .. extra]);

    [Theory]
    [InlineData(1, 5, 1)]
    [InlineData(5, 5, 1)]
    [InlineData(6, 5, 2)]
    [InlineData(10, 5, 2)]
    [InlineData(7, 1, 7)]
    public void BaseSeed_RunSeed_GroupsBranchesOfOneBase(int seed, int branches, int expected) =>
        Assert.Equal(expected, ForkScenario.BaseSeed(seed, branches));

    [Theory]
    [InlineData("lr", "lr_ramp", "0")]
    [InlineData("beta2", "fork_bias", "neutral")]
    [InlineData("control", "shock_rows", "8")]
    public void Create_TriggerAndControlOfOneBase_ShareEveryPreForkStepAndPartAfterIt(string trigger, string key, string value)
    {
        // Seeds 1 and 3 share base 1 (branches = 5) but not their post-fork data; the trigger branch of seed 1 shares
        // the control's post-fork data too.
        var control = Prepare("gpt-fork", "control", 1, Small());
        var other = Prepare("gpt-fork", "control", 3, Small());
        var triggered = Prepare("gpt-fork", trigger, 1, Small((key, value)));
        using var c = control.Setup;
        using var o = other.Setup;
        using var t = triggered.Setup;
        var controlLosses = RunUntil(control, Steps);
        var otherLosses = RunUntil(other, Steps);
        var triggeredLosses = RunUntil(triggered, Steps);

        Assert.Equal(Fork, c.ForkStep);
        Assert.Equal(controlLosses.Take(Fork), otherLosses.Take(Fork));
        Assert.Equal(controlLosses.Take(Fork), triggeredLosses.Take(Fork));
        Assert.NotEqual(controlLosses[Fork], otherLosses[Fork]); // other post-fork data
        Assert.NotEqual(controlLosses.Skip(Fork + 1), triggeredLosses.Skip(Fork + 1));
    }

    [Theory]
    [InlineData("neutral", ForkScenario.NeutralStepOffset)]
    [InlineData("continue", 0)]
    public void Create_Beta2Trigger_RaisesBeta2OfEveryParameterGroupFromTheForkStep(string bias, long offset)
    {
        var loop = Prepare("gpt-fork", "beta2", 1, Small(("fork_bias", bias)));
        using var setup = loop.Setup;
        double Beta2() => setup.Optimizer.ParamGroups.Cast<torch.optim.IBetas>().Select(g => g.Betas.Item2).Distinct().Single();
        long AdamStep() => ((TorchSharp.Modules.AdamW)setup.Optimizer).state_dict().State.Cast<TorchSharp.Modules.AdamW.State>().Select(s => s.step).Distinct().Single();

        RunUntil(loop, Fork);
        Assert.Equal(0.95, Beta2());
        Assert.Equal(Fork, AdamStep());
        loop.Step();
        loop.Step();
        Assert.Equal(0.999, Beta2());
        // neutral: the counters jump once, so 1 − 0.999^t is 1 to float precision; continue: they just count on.
        Assert.Equal(Fork + 2 + offset, AdamStep());
    }

    [Fact]
    public void Create_LrTrigger_RampsLinearlyToTheFactor()
    {
        var loop = Prepare("gpt-fork", "lr", 1, Small(("lr", "0.01"), ("lr_ramp", "4"), ("lr_factor", "3")));
        using var setup = loop.Setup;

        Assert.Equal(0.01, setup.LearningRate(Fork - 1), 15);
        Assert.Equal(0.01 * 1.5, setup.LearningRate(Fork), 15);
        Assert.Equal(0.01 * 2.5, setup.LearningRate(Fork + 2), 15);
        Assert.Equal(0.03, setup.LearningRate(Fork + 3), 15);
        Assert.Equal(0.03, setup.LearningRate(Steps - 1), 15);
    }

    [Fact]
    public void Restore_BaseSnapshotIntoATriggerBranch_EqualsTheBranchRunFromStepZero()
    {
        var (expected, expectedWeights) = Straight("gpt-fork", "beta2", 2, Small(), Steps);

        // The base trained once (as the control of seed 1), snapshotted at the fork, restored into the beta2 branch
        // of seed 2 (same base): what the pilot's fan-out does.
        var baseLoop = Prepare("gpt-fork", "control", 1, Small());
        using var baseSetup = baseLoop.Setup;
        var prefix = RunUntil(baseLoop, Fork);
        using var snapshot = baseLoop.Snapshot();
        var branch = Prepare("gpt-fork", "beta2", 2, Small());
        using var branchSetup = branch.Setup;
        branch.Restore(snapshot);
        var suffix = RunUntil(branch, Steps);

        Assert.Equal(expected, prefix.Concat(suffix));
        Assert.Equal(expectedWeights, Weights(branchSetup));
    }

    [Fact]
    public void Pilot_ForkScenario_FansOutFromOneBaseAndMatchesStraightRuns()
    {
        var overrides = Small(("lr", "0.5")); // a high rate: branches may stop early at an explosion
        var report = Pilot.Run(ScenarioCatalog.Get("gpt-fork"), ["control", "lr"], [1, 2], overrides);

        Assert.Equal([1], report.BaseCpuSeconds.Keys);
        foreach (var r in report.Runs)
        {
            var loop = Prepare("gpt-fork", r.Config, r.Seed, overrides);
            using var setup = loop.Setup;
            var losses = RunUntil(loop, r.StepsRun).Select(l => (double)l);
            Assert.Equal(GroundTruth.FindExplosionStep(losses), r.ExplosionStep);
            Assert.Equal(Fork, r.ForkStep);
        }
    }

    [Theory]
    [InlineData("fork_step", "0")]
    [InlineData("fork_step", "40")]
    [InlineData("shock_rows", "9")]
    [InlineData("fork_beta2", "1")]
    [InlineData("data", "stream")]
    [InlineData("fork_bias", "reset")]
    public void Create_InvalidForkSetting_ThrowsNamingIt(string key, string value)
    {
        var ex = Assert.Throws<ArgumentException>(() => Prepare("gpt-fork", "control", 1, Small((key, value))));
        Assert.Contains(key, ex.Message, StringComparison.Ordinal);
    }
}
