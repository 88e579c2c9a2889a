using System.Diagnostics;
using System.Text;
using SpectralAlign.Spectral;
using static SpectralAlign.Benchmarks.Harness;

namespace SpectralAlign.Benchmarks;

/// <summary>
/// Training-step time of the demo model unmonitored vs monitored (all Linear layers) at Interval = 1 and at the
/// default interval, measured interleaved: each round times one block of steps of every configuration (in rotating
/// order), and a round's ratio compares blocks of the same round, so slow drifts of the machine cancel. Reports the
/// median ratio over rounds with its interquartile range, then the monitor's own cost per measured step split into
/// phases (from a profiled run).
/// </summary>
internal static class OverheadBenchmark
{
    public static string Run(bool quick, out double interval1Overhead, out double defaultOverhead, out double profiledInterval1, out double profiledDefault)
    {
        int rounds = quick ? 5 : 31;
        int blockSteps = quick ? 20 : 50;   // a multiple of the default interval (10)
        int warmupSteps = 60;

        var defaults = new SpectralMonitorOptions();
        var configs = new (string Name, DemoModel Model, SpectralMonitor? Monitor)[]
        {
            ("unmonitored", new DemoModel(seed: 1), null),
            ("Interval = 1", new DemoModel(seed: 1), new SpectralMonitor(new SpectralMonitorOptions { Interval = 1 })),
            ($"default (Interval = {defaults.Interval})", new DemoModel(seed: 1), new SpectralMonitor()),
        };

        int layers = 0;
        foreach (var (_, model, monitor) in configs)
        {
            if (monitor is not null)
                layers = monitor.WatchAll(model.Model).Count;
            for (int i = 0; i < warmupSteps; i++)
                model.Step(monitor);
        }

        var blockMs = configs.Select(_ => new List<double>()).ToArray();
        for (int round = 0; round < rounds; round++)
        {
            for (int j = 0; j < configs.Length; j++)
            {
                int c = (round + j) % configs.Length;
                var (_, model, monitor) = configs[c];
                long start = Stopwatch.GetTimestamp();
                for (int s = 0; s < blockSteps; s++)
                    model.Step(monitor);
                blockMs[c].Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds / blockSteps);
            }
        }

        var ratios = configs.Select((_, c) => blockMs[c].Zip(blockMs[0], (a, b) => a / b).ToList()).ToArray();
        interval1Overhead = (Median(ratios[1]) - 1) * 100;
        defaultOverhead = (Median(ratios[2]) - 1) * 100;
        double baseStep = Median(blockMs[0]);

        var text = new StringBuilder();
        text.AppendLine(FormattableString.Invariant($"Demo LM, {layers} Linear layers watched, batch 16 × 64 tokens (1,024 rows per layer, {defaults.MaxSamplesPerLayer} sampled). {rounds} rounds × {blockSteps} steps per configuration, interleaved, after {warmupSteps} warm-up steps each."));
        text.AppendLine();
        text.AppendLine("| configuration | step time, median of rounds (ms) | ratio to unmonitored, median (IQR) | added time |");
        text.AppendLine("|---|---:|---:|---:|");
        for (int c = 0; c < configs.Length; c++)
        {
            double median = Median(ratios[c]);
            text.AppendLine(FormattableString.Invariant(
                $"| {configs[c].Name} | {F(Median(blockMs[c]), "0.00")} | {F(median, "0.0000")} ({F(Quantile(ratios[c], 0.25), "0.0000")}–{F(Quantile(ratios[c], 0.75), "0.0000")}) | {F((median - 1) * 100, "+0.00;-0.00")}% |"));
        }

        // Where the time of a measured step goes: a profiled stretch of each monitored configuration.
        var profiles = new List<(CostProfile Profile, List<double> Iterations, int Interval)>();
        foreach (var c in new[] { 1, 2 })
        {
            var (_, model, monitor) = configs[c];
            var profile = new CostProfile();
            var iterations = new List<double>();
            EventHandler<LayerMeasurement> count = (_, m) => iterations.Add(m.Iterations);
            monitor!.Profile = profile;
            monitor.Measured += count;
            int interval = c == 1 ? 1 : defaults.Interval;
            int profiledSteps = (quick ? 20 : 100) * interval;
            for (int s = 0; s < profiledSteps; s++)
                model.Step(monitor);
            monitor.Profile = null;
            monitor.Measured -= count;
            profiles.Add((profile, iterations, interval));
        }

        text.AppendLine();
        text.AppendLine(FormattableString.Invariant($"Monitor cost per measured step by phase (profiled after the timed rounds, so later in training; {profiles[0].Profile.CaptureCalls / Math.Max(1, profiles[0].Profile.MeasuredSteps)} hook captures per measured step). Percentages are of the unmonitored step ({F(baseStep, "0.00")} ms):"));
        text.AppendLine();
        text.AppendLine("| phase | Interval = 1: ms per measured step | % | default interval: ms per measured step | % |");
        text.AppendLine("|---|---:|---:|---:|---:|");
        var sums = new double[profiles.Count];
        foreach (var phase in Enum.GetValues<CostProfile.Phase>())
        {
            var cells = profiles.Select((p, k) =>
            {
                double ms = p.Profile.Total(phase).TotalMilliseconds / Math.Max(1, p.Profile.MeasuredSteps);
                sums[k] += ms;
                return FormattableString.Invariant($"{F(ms, "0.000")} | {F(100 * ms / baseStep, "0.00")}%");
            });
            text.AppendLine($"| {PhaseName(phase)} | {string.Join(" | ", cells)} |");
        }

        text.AppendLine(FormattableString.Invariant($"| **total** | **{F(sums[0], "0.000")}** | **{F(100 * sums[0] / baseStep, "0.00")}%** | **{F(sums[1], "0.000")}** | **{F(100 * sums[1] / baseStep, "0.00")}%** |"));
        text.AppendLine(FormattableString.Invariant($"| subspace iterations per layer measurement, median (mean) | {F(Median(profiles[0].Iterations))} ({F(profiles[0].Iterations.Average(), "0.0")}) | | {F(Median(profiles[1].Iterations))} ({F(profiles[1].Iterations.Average(), "0.0")}) | |"));
        text.AppendLine(FormattableString.Invariant($"| **added step time implied (total / interval / unmonitored step)** | | **{F(100 * sums[0] / baseStep, "0.00")}%** | | **{F(100 * sums[1] / profiles[1].Interval / baseStep, "0.00")}%** |"));
        profiledDefault = 100 * sums[1] / profiles[1].Interval / baseStep;
        profiledInterval1 = 100 * sums[0] / baseStep;

        foreach (var (_, model, monitor) in configs)
        {
            monitor?.Dispose();
            model.Dispose();
        }

        return text.ToString();
    }

    private static string PhaseName(CostProfile.Phase phase) => phase switch
    {
        CostProfile.Phase.Capture => "hook capture (subsample + copy of the input rows)",
        CostProfile.Phase.Assembly => "stacking weights and rows per shape group",
        CostProfile.Phase.Iteration => "power (subspace) iteration + Rayleigh–Ritz + update sketch",
        CostProfile.Phase.Statistics => "SA cosines, plain and centred, and row norms (on the device)",
        CostProfile.Phase.Readback => "the one device-to-host read-back",
        CostProfile.Phase.Completion => "statistics and measurements on the host, warm state kept",
        CostProfile.Phase.Detector => "detector",
        CostProfile.Phase.Events => "logging, events, sinks",
        _ => phase.ToString(),
    };
}
