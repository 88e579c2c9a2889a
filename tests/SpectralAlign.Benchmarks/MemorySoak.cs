using System.Text;
using static SpectralAlign.Benchmarks.Harness;
using static TorchSharp.torch;

namespace SpectralAlign.Benchmarks;

/// <summary>
/// A long run of the demo model monitored on every step (Interval = 1, all 29 Linear layers: ten times the default
/// measurement rate, so any per-measurement leak shows ten times faster), sampling the process's resident set, the
/// live TorchSharp tensor count and the managed heap between steps.
/// </summary>
internal static class MemorySoak
{
    public static string Run(int steps, out double rssGrowthMiB, out long tensorGrowth)
    {
        int every = Math.Max(1, steps / 20);
        using var model = new DemoModel(seed: 2);
        using var monitor = new SpectralMonitor(new SpectralMonitorOptions { Interval = 1 });
        monitor.WatchAll(model.Model);
        long measurements = 0;
        monitor.Measured += (_, _) => measurements++;

        var samples = new List<(int Step, double Rss, long Tensors, double ManagedMiB)>();
        for (int step = 1; step <= steps; step++)
        {
            model.Step(monitor);
            if (step % every == 0)
            {
                GC.Collect();
                GC.WaitForPendingFinalizers();
                samples.Add((step, ResidentMiB(), Tensor.TotalCount, GC.GetTotalMemory(false) / (1024.0 * 1024.0)));
            }
        }

        // Growth from the first sample after 10% of the run (allocator pools and JIT warmed) to the end.
        var first = samples[Math.Min(1, samples.Count - 1)];
        var last = samples[^1];
        rssGrowthMiB = last.Rss - first.Rss;
        tensorGrowth = last.Tensors - first.Tensors;

        var text = new StringBuilder();
        text.AppendLine(FormattableString.Invariant($"{steps:N0} steps, {measurements:N0} layer measurements. Samples every {every} steps (after a full GC):"));
        text.AppendLine();
        text.AppendLine("| step | resident set (MiB) | live tensors | managed heap (MiB) |");
        text.AppendLine("|---:|---:|---:|---:|");
        foreach (var s in samples)
            text.AppendLine(FormattableString.Invariant($"| {s.Step} | {F(s.Rss, "0.0")} | {s.Tensors} | {F(s.ManagedMiB, "0.00")} |"));
        text.AppendLine();
        text.AppendLine(FormattableString.Invariant(
            $"From step {first.Step} to {last.Step}: resident set {F(rssGrowthMiB, "+0.0;-0.0")} MiB (range {F(samples.Skip(1).Min(s => s.Rss), "0.0")}–{F(samples.Skip(1).Max(s => s.Rss), "0.0")}), live tensors {tensorGrowth:+0;-0;0}, managed heap {F(last.ManagedMiB - first.ManagedMiB, "+0.00;-0.00")} MiB."));
        return text.ToString();
    }
}
