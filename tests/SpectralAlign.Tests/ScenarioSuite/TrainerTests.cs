using SpectralAlign.Scenarios;
using SpectralAlign.Scenarios.Analysis;
using SpectralAlign.Scenarios.Recording;
using SpectralAlign.Scenarios.Training;
using SpectralAlign.Tests.Support;

namespace SpectralAlign.Tests.ScenarioSuite;

/// <summary>The suite's recorded run: budget mode, fork step and attention logits in the record.</summary>
[Collection(TorchCollection.Name)]
public sealed class TrainerTests
{
    private static List<KeyValuePair<string, string>> Exploding(int steps) =>
        ScenarioHarness.Tiny(("warmup", "5"), ("fork_step", "20"), ("steps", steps.ToString(System.Globalization.CultureInfo.InvariantCulture)), ("batch", "8"), ("lr", "0.02"), ("lr_factor", "100"));

    [Fact]
    public void Run_BudgetMode_RunsEveryStepPastTheExplosionAndRecordsTheFork()
    {
        using var dir = new TempDirectory();
        var options = new RunOptions { OutputDirectory = dir.Path, Interval = 5, PostExplosionSteps = null, Overrides = Exploding(150) };
        var seen = new List<long>();

        var summary = Trainer.Run(ScenarioCatalog.Get("gpt-fork"), "lr", 1, options with { AfterStep = (_, r) => seen.Add(r.Step) });

        Assert.NotNull(summary.ExplosionStep);
        Assert.True(summary.ExplosionStep >= 20, $"explosion at {summary.ExplosionStep}, before the fork");
        Assert.Equal(150, summary.StepsRun);
        Assert.Equal("completed", summary.StopReason);
        Assert.Equal(20, summary.ForkStep);
        Assert.Equal(Enumerable.Range(0, 150).Select(i => (long)i), seen);
        var run = RunData.Load(Path.Combine(dir.Path, RunRecords.RecordFileName("gpt-fork", "lr", 1)));
        Assert.Equal(20, run.Header.ForkStep);
        Assert.Equal(summary.ExplosionStep, run.ExplosionStep);
        Assert.All(run.Steps.Where(s => s.Step < summary.ExplosionStep), s => Assert.True(s.MaxAttentionLogit is { } l && double.IsFinite(l), $"step {s.Step}: no attention logit"));
        Assert.NotEmpty(run.Measurements);
        // ScenarioLinks: the recorded measurements carry UpstreamAlignment for the linked layers only.
        Assert.InRange(run.Measurements["blocks.0.attn.o"][0].UpstreamAlignment, 0, 1);
        Assert.InRange(run.Measurements["blocks.0.ffn.down"][0].UpstreamAlignment, 0, 1);
        Assert.True(double.IsNaN(run.Measurements["blocks.0.attn.q"][0].UpstreamAlignment));
    }

    [Fact]
    public void Run_DefaultPost_StopsFiftyStepsAfterTheExplosion()
    {
        using var dir = new TempDirectory();
        var options = new RunOptions { OutputDirectory = dir.Path, Monitor = false, Overrides = Exploding(200) };

        var summary = Trainer.Run(ScenarioCatalog.Get("gpt-fork"), "lr", 1, options);

        Assert.NotNull(summary.ExplosionStep);
        Assert.True(summary.StopReason is "exploded" or "non-finite", summary.StopReason);
        Assert.True(summary.StepsRun <= summary.ExplosionStep + 51);
    }
}
