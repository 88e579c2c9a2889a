// The main demo: a character-level GPT without normalisation, trained on CPU while its warm-up learning rate climbs
// past the model's stability limit, so the loss explodes a few hundred steps in. SpectralAlign watches every Linear
// layer and runs several detectors side by side; the demo prints each alert as it fires, the explosion step, and the
// lead time of every detector — whatever it turns out to be. See README, "Does it warn?", for what the scenario suite
// says about when these detectors work and when they do not.
//
//   dotnet run --project samples/Demo -c Release [-- --seed 3] [--threads 2] [--run-log artifacts/demo/demo-run.jsonl]
using System.Diagnostics;
using System.Globalization;
using SpectralAlign;
using SpectralAlign.Detection;
using SpectralAlign.Scenarios;
using SpectralAlign.Telemetry;
using TorchSharp;
using static TorchSharp.torch;

var options = DemoOptions.Parse(args);
set_num_threads(options.Threads);
manual_seed(options.Seed);

var scenario = ScenarioCatalog.Get("gpt-norm");
var settings = scenario.Settings("exploding");
using var setup = scenario.Create(settings, options.Seed);
var calibration = DetectionCalibration.Load(Path.Combine(AppContext.BaseDirectory, "gpt-norm.calibration.json"));

Console.WriteLine($"SpectralAlign demo: {scenario.Description}");
Console.WriteLine($"Configuration 'exploding' (no normalisation), seed {options.Seed}, {options.Threads} threads.");
Console.WriteLine($"Calibrated detectors: per-layer thresholds fitted on healthy reference runs of the same LM with RMSNorm ({calibration.Description.Split(';')[0]}).");
Console.WriteLine();

using var monitor = new SpectralMonitor(new SpectralMonitorOptions { Interval = 10, Seed = options.Seed, Detection = DemoDetection.Options(calibration) });
var watches = monitor.WatchAll(setup.Model);
using var runLog = new RunLogWriter(new RunLogOptions { Path = options.RunLog, Tags = { ["run"] = "demo", ["scenario"] = scenario.Name, ["seed"] = options.Seed.ToString(CultureInfo.InvariantCulture) } });
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
    double loss, gradNorm = double.NaN, lr = setup.LearningRate(step);
    using (var scope = NewDisposeScope())
    {
        foreach (var group in setup.Optimizer.ParamGroups)
            group.LearningRate = lr;
        setup.Optimizer.zero_grad();
        var (x, y) = setup.NextBatch(step);
        var lossTensor = setup.Loss(setup.Model.call(x), y);
        loss = lossTensor.item<float>();
        if (double.IsFinite(loss))
        {
            lossTensor.backward();
            gradNorm = SpectralAlign.Scenarios.Training.Trainer.GlobalGradNorm(parameters);
            setup.Optimizer.step();
        }
    }

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

/// <summary>Command line of the demo.</summary>
internal sealed record DemoOptions(int Seed, int Threads, string RunLog)
{
    public static DemoOptions Parse(string[] args)
    {
        int seed = 3, threads = Math.Min(2, Environment.ProcessorCount);
        string runLog = Path.Combine("artifacts", "demo", "demo-run.jsonl");
        for (int i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            switch (args[i])
            {
                case "--seed": seed = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--threads": threads = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--run-log": runLog = Next(); break;
                default: throw new ArgumentException($"unknown argument '{args[i]}' (known: --seed N, --threads N, --run-log PATH)");
            }
        }

        return new DemoOptions(seed, threads, runLog);
    }
}
