using System.Globalization;
using System.Text;
using SpectralAlign.Guard;
using SpectralAlign.Guard.Remedies;
using SpectralAlign.Guard.Snapshots;
using SpectralAlign.Scenarios;
using SpectralAlign.Scenarios.Training;
using TorchSharp.Modules;
using static SpectralAlign.Benchmarks.Harness;
using static TorchSharp.torch;

namespace SpectralAlign.Benchmarks;

/// <summary>
/// What the <see cref="TrainingGuard"/> costs on the demo model (29 Linear layers, AdamW), as ratios of a monitored
/// training step measured in this run: one snapshot (time, and bytes against the parameters' bytes), one rollback,
/// the spectral remedies on one layer (on an alert) and on every layer (the always-on schedules, amortised over their
/// interval), and the end-to-end step time of a guarded run at the default options against a monitored one
/// (interleaved blocks, so slow drifts of the machine cancel).
/// </summary>
internal static class GuardBenchmark
{
    public static string Run(bool quick, List<string> summary)
    {
        var defaults = new TrainingGuardOptions();
        int rounds = quick ? 3 : 11;
        int block = defaults.SnapshotInterval;                      // one snapshot per guarded block
        int repeats = quick ? 5 : 21;
        using var monitored = new Setup(seed: 1, guarded: false);
        using var guarded = new Setup(seed: 1, guarded: true);
        for (int i = 0; i < 60; i++)
        {
            monitored.Step();
            guarded.Step();
        }

        // End to end: blocks of SnapshotInterval steps, alternating which configuration goes first.
        var ratios = new List<double>();
        var stepMs = new List<double>();
        for (int r = 0; r < rounds; r++)
        {
            double a = 0, b = 0;
            if (r % 2 == 0)
            {
                a = TimeBlock(monitored, block);
                b = TimeBlock(guarded, block);
            }
            else
            {
                b = TimeBlock(guarded, block);
                a = TimeBlock(monitored, block);
            }

            ratios.Add(b / a);
            stepMs.Add(a / block);
        }

        double step = Median(stepMs);
        double endToEnd = 100 * (Median(ratios) - 1);

        // One snapshot, one rollback (on the monitored setup's model and optimizer).
        var optimizer = (OptimizerHelper)monitored.Training.Optimizer;
        var snapshotMs = Time(() => TrainingSnapshot.Capture(0, monitored.Training.Model, optimizer, SnapshotLocation.Host).Dispose(), 2, repeats, 0.5);
        using var snapshot = TrainingSnapshot.Capture(0, monitored.Training.Model, optimizer, SnapshotLocation.Host);
        var restoreMs = Time(() => SnapshotRestorer.Restore(snapshot, monitored.Training.Model, optimizer), 1, repeats, 0.5);
        long parameterBytes = monitored.Training.Model.parameters().Sum(p => p.numel() * p.ElementSize);

        // The remedies through the guard's own path (the monitor's layer access, warm basis, all-or-nothing commit).
        var corrector = new LayerCorrector(new MonitorLayerAccess(monitored.Monitor, monitored.Training.Model), monitored.Training.Model, optimizer, defaults, RemedySettings.Default);
        var layers = monitored.Monitor.Watches.SelectMany(w => w.Layers).ToArray();
        // On an alert the guard corrects the alerting layer and, for a query projection, its key partner.
        string oneLayer = layers.FirstOrDefault(l => l.EndsWith(".q", StringComparison.Ordinal)) ?? layers[0];
        var onAlert = layers.Where(l => l == oneLayer || (oneLayer.EndsWith(".q", StringComparison.Ordinal) && l == oneLayer[..^1] + "k")).ToArray();
        var remedies = new (SpectralCorrection Kind, double One, double All)[]
        {
            Remedy(SpectralCorrection.MatrixSign),
            Remedy(SpectralCorrection.Smooth),
        };

        // Each timed application starts from the trained weights (restored, untimed): a second application in a row
        // would find them already flat and converge faster.
        (SpectralCorrection, double, double) Remedy(SpectralCorrection kind)
        {
            double one = TimeFromSnapshot(() => { foreach (var l in onAlert) corrector.Correct(l, kind, null); }, repeats);
            double all = TimeFromSnapshot(() => { foreach (var l in layers) corrector.Correct(l, kind, null); }, Math.Max(3, repeats / 4));
            return (kind, one, all);
        }

        double TimeFromSnapshot(Action action, int runs)
        {
            var times = new List<double>();
            for (int i = 0; i <= runs; i++)
            {
                SnapshotRestorer.Restore(snapshot, monitored.Training.Model, optimizer);
                long start = System.Diagnostics.Stopwatch.GetTimestamp();
                action();
                if (i > 0)
                    times.Add(System.Diagnostics.Stopwatch.GetElapsedTime(start).TotalMilliseconds);
            }

            return Median(times);
        }

        double snapshotRatio = Median(snapshotMs) / step;
        double interval = defaults.ScheduleInterval;
        var text = new StringBuilder();
        text.AppendLine(Invariant($"Demo model: {layers.Length} watched Linear layers, {parameterBytes / 1024.0:0} KiB of parameters, AdamW; a monitored training step (default interval) takes {F(step, "0.00")} ms (median of {rounds} blocks)."));
        text.AppendLine();
        text.AppendLine("| guard operation | time (ms, median) | / training step | amortised per step | memory |");
        text.AppendLine("|---|---:|---:|---:|---:|");
        text.AppendLine(Invariant($"| snapshot (host): parameters, buffers, AdamW state | {F(Median(snapshotMs), "0.00")} | {F(snapshotRatio, "0.00")} | {F(100 * snapshotRatio / defaults.SnapshotInterval, "0.00")}% at every {defaults.SnapshotInterval} steps | {snapshot.Bytes / 1024.0:0} KiB = {F((double)snapshot.Bytes / parameterBytes, "0.00")} × parameters; × {defaults.SnapshotCount} kept |"));
        text.AppendLine(Invariant($"| rollback (all-or-nothing restore) | {F(Median(restoreMs), "0.00")} | {F(Median(restoreMs) / step, "0.00")} | per intervention | one undo copy while restoring |"));
        foreach (var (kind, one, all) in remedies)
        {
            text.AppendLine(Invariant($"| {kind} on an alert ({string.Join(" + ", onAlert)}) | {F(one, "0.00")} | {F(one / step, "0.00")} | per intervention | — |"));
            text.AppendLine(Invariant($"| {kind}, all {layers.Length} layers (always-on) | {F(all, "0.0")} | {F(all / step, "0.00")} | {F(100 * all / (interval * step), "0.00")}% at every {interval} steps | — |"));
        }

        text.AppendLine();
        text.AppendLine(Invariant($"End to end, default options (a snapshot every {defaults.SnapshotInterval} steps, no trigger): guarded step time {F(endToEnd, "+0.00;-0.00")}% against monitored (median of {rounds} interleaved blocks of {block} steps; ratios {string.Join(", ", ratios.Select(x => F(x, "0.000")))})."));

        summary.Add(Invariant($"| guard: snapshot time / training step (amortised at the default interval {defaults.SnapshotInterval}) | {F(snapshotRatio, "0.00")} ({F(100 * snapshotRatio / defaults.SnapshotInterval, "0.00")}%) | — (issue 12: report) | reported |"));
        summary.Add(Invariant($"| guard: snapshot memory / parameter bytes (× {defaults.SnapshotCount} kept) | {F((double)snapshot.Bytes / parameterBytes, "0.00")} | — (issue 12: report) | reported |"));
        foreach (var (kind, one, all) in remedies)
        {
            summary.Add(Invariant($"| {kind} always-on (all layers every {interval} steps): added step time | {F(100 * all / (interval * step), "0.00")}% | — (issue 14: report) | reported |"));
            summary.Add(Invariant($"| {kind} on an alert ({onAlert.Length} layer(s)) / one always-on application (all layers) | {F(one / all, "0.000")} | — (run-level ratio needs the rescue table's intervention rate) | reported |"));
        }
        return text.ToString();
    }

    private static double TimeBlock(Setup setup, int steps)
    {
        long start = System.Diagnostics.Stopwatch.GetTimestamp();
        for (int i = 0; i < steps; i++)
            setup.Step();
        return System.Diagnostics.Stopwatch.GetElapsedTime(start).TotalMilliseconds;
    }

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);

    /// <summary>The demo model (as <see cref="DemoModel"/> builds it) with a monitor watching every Linear and, when
    /// <c>guarded</c>, a guard with the default options stepping it.</summary>
    private sealed class Setup : IDisposable
    {
        private readonly TrainingGuard? _guard;
        private long _step;

        public Setup(int seed, bool guarded)
        {
            manual_seed(seed);
            var scenario = ScenarioCatalog.Get("gpt-norm");
            Training = scenario.Create(scenario.Settings("exploding", [new("lr", "5e-3")]), seed);
            Training.Model.train();
            Monitor = new SpectralMonitor();
            Monitor.WatchAll(Training.Model);
            _guard = guarded ? new TrainingGuard(Monitor, Training.Model, Training.Optimizer) : null;
        }

        public TrainingSetup Training { get; }

        public SpectralMonitor Monitor { get; }

        public void Step()
        {
            double loss;
            using (var scope = NewDisposeScope())
            {
                double lr = Training.LearningRate(_step) * (_guard?.LearningRateScale ?? 1);
                foreach (var group in Training.Optimizer.ParamGroups)
                    group.LearningRate = lr;
                Training.Optimizer.zero_grad();
                var (x, y) = Training.NextBatch(_step);
                var lossTensor = Training.Loss(Training.Model.call(x), y);
                lossTensor.backward();
                Training.Optimizer.step();
                loss = lossTensor.item<float>();
            }

            if (_guard is null)
                Monitor.Step(new TrainingSignals(loss));
            else
                _guard.Step(loss);
            _step++;
        }

        public void Dispose()
        {
            _guard?.Dispose();
            Monitor.Dispose();
            Training.Dispose();
        }
    }
}
