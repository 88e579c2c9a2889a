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
    public static string Run(bool quick, out double interval1Overhead, out double defaultOverhead)
    {
        int rounds = quick ? 5 : 21;
        int blockSteps = quick ? 20 : 40;   // a multiple of the default interval (10)
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

        // Where the time of a measured step goes: a separate profiled run at Interval = 1.
        var profile = new CostProfile();
        var profiled = configs[1];
        profiled.Monitor!.Profile = profile;
        var iterations = new List<double>();
        EventHandler<LayerMeasurement> countIterations = (_, m) => iterations.Add(m.Iterations);
        profiled.Monitor.Measured += countIterations;
        int profiledSteps = quick ? 40 : 200;
        long profiledStart = Stopwatch.GetTimestamp();
        for (int s = 0; s < profiledSteps; s++)
            profiled.Model.Step(profiled.Monitor);
        double profiledStep = Stopwatch.GetElapsedTime(profiledStart).TotalMilliseconds / profiledSteps;
        profiled.Monitor.Profile = null;
        profiled.Monitor.Measured -= countIterations;

        text.AppendLine();
        text.AppendLine(FormattableString.Invariant($"Monitor cost per measured step at Interval = 1 ({profile.MeasuredSteps} profiled steps, {profile.CaptureCalls / Math.Max(1, profile.MeasuredSteps)} hook captures per step; subspace iterations per layer measurement: median {F(Median(iterations))}, mean {F(iterations.Average(), "0.00")}; unmonitored step {F(baseStep, "0.00")} ms, profiled monitored step {F(profiledStep, "0.00")} ms):"));
        text.AppendLine();
        text.AppendLine("| phase | ms per measured step | % of an unmonitored step |");
        text.AppendLine("|---|---:|---:|");
        double sum = 0;
        foreach (var phase in Enum.GetValues<CostProfile.Phase>())
        {
            double ms = profile.Total(phase).TotalMilliseconds / Math.Max(1, profile.MeasuredSteps);
            sum += ms;
            text.AppendLine(FormattableString.Invariant($"| {PhaseName(phase)} | {F(ms, "0.000")} | {F(100 * ms / baseStep, "0.00")}% |"));
        }

        text.AppendLine(FormattableString.Invariant($"| **total** | **{F(sum, "0.000")}** | **{F(100 * sum / baseStep, "0.00")}%** |"));

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
        CostProfile.Phase.Iteration => "power (subspace) iteration + Rayleigh–Ritz",
        CostProfile.Phase.Statistics => "SA cosines, statistics, histograms (on the device)",
        CostProfile.Phase.Readback => "the one device-to-host read-back",
        CostProfile.Phase.Completion => "measurements on the host, warm bases kept",
        CostProfile.Phase.Detector => "detector",
        CostProfile.Phase.Events => "logging, events, sinks",
        _ => phase.ToString(),
    };
}
