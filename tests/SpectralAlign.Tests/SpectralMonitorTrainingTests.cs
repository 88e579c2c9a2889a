using SpectralAlign.Tests.Support;
using Xunit.Abstractions;
using TorchSharp;
using static TorchSharp.torch;

namespace SpectralAlign.Tests;

/// <summary>The monitor inside real training loops: accuracy of the warm-started vectors, memory, and whether
/// the default detector separates a planted collapse from healthy training.</summary>
[Collection(TorchCollection.Name)]
public sealed class SpectralMonitorTrainingTests(ITestOutputHelper output)
{
    [Fact]
    public void Step_2000MonitoredSteps_LiveTensorCountDoesNotGrow()
    {
        using var model = Training.Mlp(seed: 1);
        using var task = new TeacherTask(32, 10, seed: 2);
        using var harness = new MonitorHarness(new SpectralMonitorOptions { Interval = 1 });

        long after100 = 0;
        harness.Train(model, task, steps: 2000, afterStep: (step, _) =>
        {
            if (step == 99)
                after100 = Tensor.TotalCount;
        });
        long after2000 = Tensor.TotalCount;

        Assert.Equal(3 * 2000, harness.Measurements.Count);
        Assert.True(after2000 <= after100, $"live tensors grew from {after100} (step 100) to {after2000} (step 2000)");
    }

    [Fact]
    public void Step_DuringTraining_WarmVectorTracksSvdWhereThereIsAGap()
    {
        using var model = Training.Mlp(seed: 3);
        using var task = new TeacherTask(32, 10, seed: 4);
        using var monitor = new SpectralMonitor(new SpectralMonitorOptions { Interval = 1 });
        var watches = monitor.WatchAll(model);
        int gapped = 0, tied = 0;
        var failures = new List<string>();
        // Not a recording: the check needs the live weight and vector at the moment each measurement is published.
        monitor.Measured += (_, m) =>
        {
            var watch = watches.Single(w => w.Name == m.Layer);
            var (svdV1, singular) = Reference.Svd(((TorchSharp.Modules.Linear)watch.Module).weight!);
            using var ours = watch.CopySingularVector()!;
            var v = Reference.ToDoubles(ours);
            double ratio = singular[1] / singular[0];
            double cos = Math.Abs(Reference.Cosine(v, svdV1));
            if (Math.Abs(m.GapRatio - ratio) > 0.02)
                failures.Add($"{m.Layer}@{m.Step}: reported σ2/σ1 {m.GapRatio:F4}, SVD {ratio:F4}");
            if (ratio < 0.9)
            {
                gapped++;
                if (cos < 0.999)
                    failures.Add($"{m.Layer}@{m.Step}: |cos| {cos:F5} with σ2/σ1 {ratio:F3}");
            }
            else
            {
                // Nearly tied: v1 itself is ill-determined, but the monitor's vector must still be a top direction.
                tied++;
                using var w = ((TorchSharp.Modules.Linear)watch.Module).weight!.detach().to(ScalarType.Float64);
                using var vt = tensor(v, dtype: ScalarType.Float64);
                double gain = w.matmul(vt).norm().item<double>() / singular[0];
                if (gain < 1 - 1e-3)
                    failures.Add($"{m.Layer}@{m.Step}: ‖Wv‖/σ1 = {gain:F5} with σ2/σ1 {ratio:F3}");
            }
        };

        Training.Run(model, task, monitor, steps: 400, lr: 3e-3);

        output.WriteLine($"gapped measurements: {gapped}, nearly tied (σ2/σ1 ≥ 0.9): {tied}");
        Assert.Empty(failures);
        Assert.True(gapped > 100, $"only {gapped} gapped measurements");
    }

    private const int DriftStart = 800;
    private const int TotalSteps = 1500;

    [Theory]
    [InlineData(5)]
    [InlineData(6)]
    public void Step_BaselineRelativeRuleAtThresholdOne_AlertOnPlantedDriftOnly(long seed)
    {
        var healthy = RunDriftScenario(seed, plant: false);
        var planted = RunDriftScenario(seed, plant: true);
        foreach (var a in healthy.Concat(planted))
            output.WriteLine($"{(healthy.Contains(a) ? "healthy" : "planted")}: {a}");

        Assert.Empty(healthy);
        Assert.Contains(planted, a => a.Layer == "fc2" && a.Reason == AlertReasons.SignCollapse && a.EpisodeStartStep >= DriftStart);
        Assert.DoesNotContain(planted, a => a.Step < DriftStart);
    }

    private List<CollapseAlert> RunDriftScenario(long seed, bool plant)
    {
        using var model = Training.Mlp(seed);
        using var task = new TeacherTask(32, 10, seed: seed + 100);
        // The rule at its own threshold of 1 (the shipped default runs it at 2, silent on every healthy run of the
        // evaluation by horizon, which this gentle planted drift does not reach).
        using var harness = new MonitorHarness(new SpectralMonitorOptions { Detection = new SpectralAlign.Detection.DetectionOptions { Rules = [new SpectralAlign.Detection.BaselineRelativeRule()] } });
        harness.Train(model, task, TotalSteps, beforeStep: step =>
        {
            // Planted drift: after a long healthy phase, push fc2's inputs towards its v1, growing over 300 steps.
            model.drift.Alpha = plant && step >= DriftStart ? Math.Min(3.0, (step - DriftStart) / 100.0) : 0;
        });
        foreach (var m in harness.Of("fc2").Where(m => m.Step % 100 == 0))
            output.WriteLine($"{(plant ? "planted" : "healthy")} fc2 {m.Step}: {m.Stats}");
        return [.. harness.Alerts];
    }
}
