// The README's quick start as a runnable program.
//
// Trains a small MLP classifier on a synthetic task with SpectralAlign watching every Linear layer. After a healthy
// phase the learning rate starts growing by 1.2% per step, which eventually destabilises training; the program prints
// the monitor's numbers every 100 steps, every alert as it happens, and the step at which the loss explodes, under a
// live one-line progress display (plain lines when the output is redirected).
//
// Optional sinks (see the README):
//   --run-log PATH       crash-safe JSON Lines run log (render it with src/SpectralAlign.Report)
//   --tensorboard DIR    TensorBoard event file
//   --capture DIR        offline mode: save each layer's sampled inputs and weight on measured steps
//   --otel               metrics through OpenTelemetry's console exporter, tagged run=quickstart, rank=0
using Microsoft.Extensions.Logging;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using SpectralAlign;
using SpectralAlign.Scenarios;
using SpectralAlign.Telemetry;
using TorchSharp;
using static TorchSharp.torch;

var options = QuickStartOptions.Parse(args);

const int steps = 1500;
const int rampStart = 700;
const double healthyLr = 1e-3, rampFactor = 1.012;

using var loggerFactory = LoggerFactory.Create(b => b.AddSimpleConsole(o => o.SingleLine = true));
manual_seed(0);
var model = nn.Sequential(
    ("fc1", nn.Linear(32, 128)), ("act1", nn.ReLU()),
    ("fc2", nn.Linear(128, 128)), ("act2", nn.ReLU()),
    ("head", nn.Linear(128, 10)));
using var optimizer = optim.Adam(model.parameters(), healthyLr);
var task = new SyntheticTask(inputs: 32, classes: 10, seed: 1);

CollapseAlert? firstAlert = null;
var progress = ProgressLine.ForConsole(plainEvery: 100);
LayerMeasurement? lowest = null;

// --- quick start -------------------------------------------------------------------------------------------------
using var monitor = new SpectralMonitor(new SpectralMonitorOptions { Interval = 10, MetricTags = { ["run"] = "quickstart", ["rank"] = 0 } }, loggerFactory.CreateLogger("SpectralAlign"));
monitor.WatchAll(model);                                   // every Linear, named by its path: fc1, fc2, head
monitor.CollapseDetected += (_, alert) => { firstAlert ??= alert; progress.WriteLine($"  >>> ALERT {alert}"); };
monitor.Measured += (_, m) => { if (m.Step % 100 == 0) progress.WriteLine($"  {m.Layer,-5} step {m.Step,4}: mean SA {m.Stats.Mean,7:F3}  D {m.Stats.SignDiversity:0.00}  σ1 {m.SpectralNorm,7:0.00}"); };
// -----------------------------------------------------------------------------------------------------------------

// The layer with the lowest sign diversity at the latest measured step, for the progress line.
monitor.Measured += (_, m) => { if (lowest is null || lowest.Step != m.Step || m.Stats.SignDiversity < lowest.Stats.SignDiversity) lowest = m; };

// --- sinks (each opt-in) ------------------------------------------------------------------------------------------
using var runLog = options.RunLog is null ? null : new RunLogWriter(new RunLogOptions { Path = options.RunLog, Tags = { ["run"] = "quickstart" } });
using var runLogRegistration = runLog is null ? null : monitor.AddSink(runLog);
var tensorBoard = options.TensorBoard is null ? null : new TensorBoardSink(new TensorBoardOptions { LogDirectory = options.TensorBoard });
using var tensorBoardRegistration = tensorBoard is null ? null : monitor.AddSink(tensorBoard);
using var capture = options.Capture is null ? null : new OfflineCaptureSink(new OfflineCaptureOptions { Directory = options.Capture }, monitor.Options);
using var captureRegistration = capture is null ? null : monitor.AddCaptureSink(capture);

// Metrics: every monitor records on the "SpectralAlign" meter (tagged with the options' MetricTags); here
// OpenTelemetry subscribes and exports to the console when it is disposed, at the end of the run.
using var meterProvider = !options.OpenTelemetry ? null : Sdk.CreateMeterProviderBuilder()
    .AddMeter(SpectralMetrics.MeterName)
    .AddConsoleExporter()
    .Build();

double smoothed = double.NaN, runningMin = double.PositiveInfinity;
for (int step = 0; step < steps; step++)
{
    if (step >= rampStart)
    {
        double lr = healthyLr * Math.Pow(rampFactor, step - rampStart);
        if (step == rampStart)
            progress.WriteLine($"--- step {step}: the learning rate starts growing by {rampFactor - 1:P1} per step");
        foreach (var group in optimizer.ParamGroups)
            group.LearningRate = lr;
    }

    using var scope = NewDisposeScope();
    var (x, y) = task.Batch(256);
    optimizer.zero_grad();
    var loss = nn.functional.cross_entropy(model.call(x), y);   // .call(), not .forward(): hooks run only there
    loss.backward();
    optimizer.step();
    monitor.Step();                                             // once per optimizer step, after optimizer.step()
    // --- end of quick start ------------------------------------------------------------------------------------

    // Explosion: the loss (smoothed over ~10 steps) is non-finite or twice its running minimum.
    double value = loss.item<float>();
    smoothed = double.IsNaN(smoothed) ? value : 0.9 * smoothed + 0.1 * value;
    runLog?.WriteScalar(step, "loss", value);
    progress.Update(step, $"step {step,4}  loss {smoothed:0.0000}  lr {optimizer.ParamGroups.First().LearningRate:G3}  lowest D {lowest?.Stats.SignDiversity ?? double.NaN:0.00} ({lowest?.Layer ?? "-"})  alerts: {(firstAlert is null ? "none" : $"{firstAlert.Layer}@{firstAlert.Step}")}");
    if (step > 50 && (!double.IsFinite(smoothed) || smoothed > 2 * runningMin))
    {
        runLog?.WriteMarker(step, "loss_explosion", $"smoothed loss {smoothed:G4}, running minimum {runningMin:0.0000}");
        progress.Update(step, $"step {step,4}  loss {smoothed:0.0000}  lowest D {lowest?.Stats.SignDiversity ?? double.NaN:0.00} ({lowest?.Layer ?? "-"})", force: true);
        progress.Finish();
        Console.WriteLine($"--- step {step}: loss exploded (smoothed loss {smoothed:G4}, running minimum {runningMin:0.0000})");
        Console.WriteLine(firstAlert is null
            ? "No alert was raised before the explosion."
            : $"First alert: {firstAlert.Reason} in '{firstAlert.Layer}' at step {firstAlert.Step}, {step - firstAlert.Step} steps before the explosion.");
        break;
    }

    runningMin = Math.Min(runningMin, smoothed);
}

if (options.RunLog is not null)
    Console.WriteLine($"Run log: {Path.GetFullPath(options.RunLog)} (render it: dotnet run --project src/SpectralAlign.Report -c Release -- {options.RunLog})");

/// <summary>The command-line switches.</summary>
internal sealed record QuickStartOptions(string? RunLog, string? TensorBoard, string? Capture, bool OpenTelemetry)
{
    public static QuickStartOptions Parse(string[] args)
    {
        string? runLog = null, tensorBoard = null, capture = null;
        bool otel = false;
        for (int i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            switch (args[i])
            {
                case "--run-log": runLog = Next(); break;
                case "--tensorboard": tensorBoard = Next(); break;
                case "--capture": capture = Next(); break;
                case "--otel": otel = true; break;
                default: throw new ArgumentException($"unknown argument '{args[i]}' (known: --run-log PATH, --tensorboard DIR, --capture DIR, --otel)");
            }
        }

        return new QuickStartOptions(runLog, tensorBoard, capture, otel);
    }
}

/// <summary>A fixed synthetic classification task: labels from a random two-layer teacher network.</summary>
internal sealed class SyntheticTask(int inputs, int classes, long seed)
{
    private readonly Generator _generator = new((ulong)seed);
    private readonly Tensor _w1 = randn([inputs, 64], generator: new Generator((ulong)seed + 1)).DetachFromDisposeScope();
    private readonly Tensor _w2 = randn([64, classes], generator: new Generator((ulong)seed + 2)).DetachFromDisposeScope();

    public (Tensor X, Tensor Y) Batch(int size)
    {
        var x = randn([size, inputs], generator: _generator);
        return (x, nn.functional.relu(x.matmul(_w1)).matmul(_w2).argmax(1));
    }
}
