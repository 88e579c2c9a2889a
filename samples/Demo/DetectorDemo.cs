using System.Diagnostics;
using System.Globalization;
using SpectralAlign;
using SpectralAlign.Detection;
using SpectralAlign.Scenarios;
using SpectralAlign.Scenarios.Training;
using SpectralAlign.Telemetry;
using TorchSharp;
using static TorchSharp.torch;

/// <summary>
/// The detector demo (<c>--detectors</c>): a character-level GPT without normalisation, trained while its warm-up
/// learning rate climbs past the model's stability limit, so the loss explodes a few hundred steps in. SpectralAlign
/// watches every Linear layer and runs several detectors side by side; the demo prints each alert as it fires, the
/// explosion step, and the lead time of every detector — whatever it turns out to be. See README, "Does it warn?".
/// </summary>
internal static class DetectorDemo
{
    public static int Run(DemoOptions options)
    {
        int seed = options.Seed ?? 3;
        set_num_threads(options.Threads);
        manual_seed(seed);

        var scenario = ScenarioCatalog.Get("gpt-norm");
        var settings = scenario.Settings("exploding");
        using var setup = scenario.Create(settings, seed);
        var calibration = DetectionCalibration.Load(Path.Combine(AppContext.BaseDirectory, "gpt-norm.calibration.json"));

        Console.WriteLine($"SpectralAlign demo: {scenario.Description}");
        Console.WriteLine($"Configuration 'exploding' (no normalisation), seed {seed}, {options.Threads} threads.");
        Console.WriteLine($"Calibrated detectors: per-layer thresholds fitted on healthy reference runs of the same LM with RMSNorm ({calibration.Description.Split(';')[0]}).");
        Console.WriteLine();

        using var monitor = new SpectralMonitor(new SpectralMonitorOptions { Interval = 10, Seed = seed, Detection = DemoDetection.Options(calibration) });
        var watches = monitor.WatchAll(setup.Model);
        using var runLog = new RunLogWriter(new RunLogOptions { Path = options.RunLog, Tags = { ["run"] = "demo", ["scenario"] = scenario.Name, ["seed"] = seed.ToString(CultureInfo.InvariantCulture) } });
        using var runLogRegistration = monitor.AddSink(runLog);

        var progress = ProgressLine.ForConsole(plainEvery: 50);
        var firstAlerts = new Dictionary<string, CollapseAlert>(StringComparer.Ordinal);
        var diversity = new Dictionary<string, double>(StringComparer.Ordinal);
        var stepAlerts = new List<CollapseAlert>();
        monitor.Measured += (_, m) =>
        {
            if (m.Stats.Count > 0)
                diversity[m.Layer] = m.Stats.SignDiversity;
        };
        monitor.CollapseDetected += (_, a) =>
        {
            firstAlerts.TryAdd(a.Reason, a);
            stepAlerts.Add(a);
        };

        // Prints the alerts a step raised, one line per rule: the first layer with its numbers, then how many more.
        void PrintAlerts()
        {
            foreach (var byRule in stepAlerts.GroupBy(a => a.Reason))
            {
                var first = byRule.First();
                int more = byRule.Count() - 1;
                progress.WriteLine(FormattableString.Invariant($"  ALERT {first.Reason} at step {first.Step} in {first.Layer}: {first.Detail}")
                    + (more > 0 ? FormattableString.Invariant($"\n        … and in {more} more layer{(more == 1 ? "" : "s")}: {string.Join(", ", byRule.Skip(1).Select(a => a.Layer))}") : ""));
            }

            stepAlerts.Clear();
        }

        Console.WriteLine($"Watching {watches.Count} Linear layers; {watches[0].Name} … {watches[^1].Name}. Training …");
        var tracker = new ExplosionTracker();
        var parameters = setup.Model.parameters().ToArray();
        var clock = Stopwatch.StartNew();
        long? explosion = null;
        setup.Model.train();
        for (long step = 0; step < setup.Steps; step++)
        {
            var (loss, gradNorm, lr) = Trainer.TrainStep(setup, parameters, step);

            monitor.Step(new TrainingSignals(loss, gradNorm));
            PrintAlerts();
            runLog.WriteScalar(step, "loss", loss);
            if (tracker.Observe(step, loss))
            {
                explosion = step;
                runLog.WriteMarker(step, "explosion", FormattableString.Invariant($"loss {loss:G4}, running minimum {tracker.RunningMinimum:G4}"));
                progress.WriteLine(FormattableString.Invariant($"  EXPLOSION at step {step}: loss {loss:G4} (running minimum {tracker.RunningMinimum:G4}); training stops 20 steps later."));
            }

            var lowest = diversity.Count == 0 ? ("-", 1.0) : diversity.MinBy(kv => kv.Value) is var (layer, d) ? (layer, d) : ("-", 1.0);
            progress.Update(step, FormattableString.Invariant($"step {step,4}  loss {loss,8:F4}  lr {lr:0.00e0}  grad {gradNorm,7:G3}  lowest D {lowest.Item2:0.00} ({lowest.Item1})  detectors alerted {firstAlerts.Count}  {clock.Elapsed.TotalSeconds,5:F1}s"));
            if (!double.IsFinite(loss) || (explosion is { } e && step >= e + 20))
                break;
        }

        progress.Finish();
        Console.WriteLine();
        Console.WriteLine(explosion is { } exploded
            ? FormattableString.Invariant($"The loss exploded at step {exploded} ({clock.Elapsed.TotalSeconds:F0} s). First alert of each detector:")
            : "The loss did not explode in this run. First alert of each detector:");
        var detectors = new (string Reason, string Description)[]
        {
            (AlertReasons.SignCollapse, "default options: SA vs the layer's own early baseline"),
            (AlertReasons.AbsoluteSignCollapse, "SA one-sidedness, thresholds calibrated on healthy reference runs"),
            (AlertReasons.MaxActivationGrowth, "baseline: max-activation growth, calibrated"),
            (AlertReasons.SpectralNormGrowth, "baseline: σ1 growth, calibrated"),
            (AlertReasons.GradientNormSpike, "baseline: gradient-norm spike (OLMo 6σ), calibrated"),
            (AlertReasons.LossSpike, "baseline: loss spike, calibrated"),
        };
        foreach (var (reason, description) in detectors)
        {
            string outcome = firstAlerts.TryGetValue(reason, out var a)
                ? explosion is { } e && a.Step < e
                    ? FormattableString.Invariant($"step {a.Step,4} in {a.Layer} — {e - a.Step} steps before the explosion")
                    : FormattableString.Invariant($"step {a.Step,4} in {a.Layer} — not before the explosion")
                : "no alert";
            Console.WriteLine($"  {description,-68} {outcome}");
        }

        Console.WriteLine();
        Console.WriteLine($"Run log: {Path.GetFullPath(options.RunLog)}");
        Console.WriteLine($"  plot it: dotnet run --project src/SpectralAlign.Report -c Release -- {options.RunLog}");
        Console.WriteLine("What this shows and what it does not: README, section \"Does it warn?\".");
        return 0;
    }
}
