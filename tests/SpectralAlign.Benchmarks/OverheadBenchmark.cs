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
/// phases (from a profiled run). The same two intervals also with <see cref="SpectralMonitorOptions.MeasureInBackground"/>,
/// whose blocks end with <see cref="SpectralMonitor.Flush"/> (the last measurement's wait is inside the timing) and
/// whose profile splits the training thread's share (capture, hand-off, detector, events) from the worker's.
/// </summary>
internal static class OverheadBenchmark
{
    /// <summary>Runs the benchmark.</summary>
    /// <returns>The section's text; the out values are added step times in percent: [0] Interval = 1, [1] the default
    /// interval, [2] and [3] the same in the background (interleaved timing; profile: training-thread share).</returns>
    public static string Run(bool quick, out double[] interleaved, out double[] profiled)
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
            ("Interval = 1, in the background", new DemoModel(seed: 1), new SpectralMonitor(new SpectralMonitorOptions { Interval = 1, MeasureInBackground = true })),
            ($"default (Interval = {defaults.Interval}), in the background", new DemoModel(seed: 1), new SpectralMonitor(new SpectralMonitorOptions { MeasureInBackground = true })),
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
                monitor?.Flush();   // a background measurement still running belongs to this block
                blockMs[c].Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds / blockSteps);
            }
        }

        var ratios = configs.Select((_, c) => blockMs[c].Zip(blockMs[0], (a, b) => a / b).ToList()).ToArray();
        interleaved = [.. Enumerable.Range(1, configs.Length - 1).Select(c => (Median(ratios[c]) - 1) * 100)];
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
        for (int c = 1; c < configs.Length; c++)
        {
            var (_, model, monitor) = configs[c];
            var profile = new CostProfile();
            var iterations = new List<double>();
            EventHandler<LayerMeasurement> count = (_, m) => iterations.Add(m.Iterations);
            monitor!.Profile = profile;
            monitor.Measured += count;
            int interval = monitor.Options.Interval;
            int profiledSteps = (quick ? 20 : 100) * interval;
            for (int s = 0; s < profiledSteps; s++)
                model.Step(monitor);
            monitor.Flush();
            monitor.Profile = null;
            monitor.Measured -= count;
            profiles.Add((profile, iterations, interval));
        }

        text.AppendLine();
        text.AppendLine(FormattableString.Invariant($"Monitor cost per measured step by phase (profiled after the timed rounds, so later in training; {profiles[0].Profile.CaptureCalls / Math.Max(1, profiles[0].Profile.MeasuredSteps)} hook captures per measured step). Percentages are of the unmonitored step ({F(baseStep, "0.00")} ms). In the background columns the engine's phases run on a worker thread, concurrently with training; only capture, hand-off, detector and events are the training thread's:"));
        text.AppendLine();
        text.AppendLine("| phase | " + string.Join(" | ", configs.Skip(1).Select(c => $"{c.Name}: ms per measured step | %")) + " |");
        text.AppendLine("|---|" + string.Concat(Enumerable.Repeat("---:|---:|", profiles.Count)));
        var sums = new double[profiles.Count];
        var trainingThread = new double[profiles.Count];
        foreach (var phase in Enum.GetValues<CostProfile.Phase>())
        {
            var cells = profiles.Select((p, k) =>
            {
                double ms = p.Profile.Total(phase).TotalMilliseconds / Math.Max(1, p.Profile.MeasuredSteps);
                sums[k] += ms;
                if (phase is CostProfile.Phase.Capture or CostProfile.Phase.Handoff or CostProfile.Phase.Detector or CostProfile.Phase.Events)
                    trainingThread[k] += ms;
                return FormattableString.Invariant($"{F(ms, "0.000")} | {F(100 * ms / baseStep, "0.00")}%");
            });
            text.AppendLine($"| {PhaseName(phase)} | {string.Join(" | ", cells)} |");
        }

        text.AppendLine("| **total** | " + string.Join(" | ", sums.Select(t => FormattableString.Invariant($"**{F(t, "0.000")}** | **{F(100 * t / baseStep, "0.00")}%**"))) + " |");
        text.AppendLine("| subspace iterations per layer measurement, median (mean) | " + string.Join(" | ", profiles.Select(p => FormattableString.Invariant($"{F(Median(p.Iterations))} ({F(p.Iterations.Average(), "0.0")}) |"))) + " |");
        // Foreground: the whole total is on the training thread; background: only its share.
        profiled = [.. profiles.Select((p, k) => 100 * (configs[k + 1].Monitor!.Options.MeasureInBackground ? trainingThread[k] : sums[k]) / p.Interval / baseStep)];
        text.AppendLine("| **added step time implied (training thread's time / interval / unmonitored step)** | " + string.Join(" | ", profiled.Select(v => FormattableString.Invariant($"| **{F(v, "0.00")}%**"))) + " |");

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
        CostProfile.Phase.Assembly => "stacking weights (and, off the CPU, rows) per shape group",
        CostProfile.Phase.Iteration => "power (subspace) iteration + Rayleigh–Ritz + update sketch",
        CostProfile.Phase.Statistics => "per-row norms and products for the SA cosines (on the host for CPU tensors, else on the device)",
        CostProfile.Phase.Readback => "the one device-to-host read-back",
        CostProfile.Phase.Completion => "statistics and measurements on the host, warm state kept",
        CostProfile.Phase.Detector => "detector",
        CostProfile.Phase.Events => "logging, events, sinks",
        CostProfile.Phase.Handoff => "background only: copying the weights, waiting for the worker (training thread)",
        _ => phase.ToString(),
    };
}
