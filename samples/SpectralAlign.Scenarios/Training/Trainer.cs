using System.Diagnostics;
using System.Globalization;
using SpectralAlign.Detection;
using SpectralAlign.Scenarios.Recording;
using TorchSharp;
using static TorchSharp.torch;

namespace SpectralAlign.Scenarios.Training;

/// <summary>How to run one scenario configuration.</summary>
public sealed record RunOptions
{
    /// <summary>torch intra-op threads.</summary>
    public int Threads { get; init; } = 1;

    /// <summary>Monitor interval (measure every this many steps).</summary>
    public int Interval { get; init; } = 5;

    /// <summary>Steps to keep training after the ground-truth explosion step (to record the aftermath); null to run
    /// the whole budget whatever happens (non-finite losses included). Default 50.</summary>
    public int? PostExplosionSteps { get; init; } = 50;

    /// <summary>False to train without a monitor (no measurements, no alerts: for pilots); default true.</summary>
    public bool Monitor { get; init; } = true;

    /// <summary>Called after every optimizer step, before the monitor steps (null for nothing).</summary>
    public Action<TrainingLoop, StepResult>? AfterStep { get; init; }

    /// <summary>Folder for the record and summary files.</summary>
    public required string OutputDirectory { get; init; }

    /// <summary>key=value overrides laid over the configuration.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Overrides { get; init; } = [];

    /// <summary>Progress lines go here (null for none).</summary>
    public TextWriter? Log { get; init; }

    /// <summary>Print a progress line every this many steps.</summary>
    public int LogEvery { get; init; } = 100;
}

/// <summary>
/// The recorded run of the suite. Per step: <see cref="TrainingLoop.Step"/> (prepare, learning rate, batch, forward
/// through <c>call</c> so the monitor's hooks see their inputs, float32 loss, backward, global gradient norm before
/// clipping, optional clipping, optimizer step), record the step, <see cref="RunOptions.AfterStep"/>,
/// <c>monitor.Step()</c> (which raises the measurement and alert events that are recorded), ground-truth check.
/// A loop of one's own (an evaluation that intervenes) starts from <see cref="Prepare"/> and drives the
/// <see cref="TrainingLoop"/> itself.
/// </summary>
public static class Trainer
{
    private static readonly System.Text.Json.JsonSerializerOptions IndentedOptions = new(RunRecords.Options) { WriteIndented = true };

    /// <summary>The library's informational version (with the commit it was built from), written into every record's
    /// header so that an evaluation can check that all its records come from one monitor version.</summary>
    public static string MonitorVersion { get; } =
        typeof(SpectralMonitor).Assembly.GetCustomAttributes(typeof(System.Reflection.AssemblyInformationalVersionAttribute), false)
            .OfType<System.Reflection.AssemblyInformationalVersionAttribute>().FirstOrDefault()?.InformationalVersion ?? "unknown";

    /// <summary>
    /// Builds a run exactly as <see cref="Run"/> does — torch threads, torch's global generator seeded with
    /// <paramref name="seed"/>, the configuration's settings with overrides — for a loop of the caller's own.
    /// </summary>
    /// <param name="scenario">The scenario.</param>
    /// <param name="config">Its configuration.</param>
    /// <param name="seed">The run's seed.</param>
    /// <param name="overrides">key=value overrides laid over the configuration (null for none).</param>
    /// <param name="threads">torch intra-op threads; default 1.</param>
    /// <returns>The settings and the loop at step 0; the caller disposes <c>Loop.Setup</c>.</returns>
    /// <exception cref="ArgumentException">Unknown configuration, or an override the scenario does not read.</exception>
    public static (HyperParameters Settings, TrainingLoop Loop) Prepare(Scenario scenario, string config, int seed, IEnumerable<KeyValuePair<string, string>>? overrides = null, int threads = 1)
    {
        ArgumentNullException.ThrowIfNull(scenario);
        set_num_threads(threads);
        manual_seed(seed);
        var settings = scenario.Settings(config, overrides);
        var setup = scenario.Create(settings, seed);
        var unread = settings.Unread.ToList();
        if (unread.Count > 0)
        {
            setup.Dispose();
            throw new ArgumentException($"Settings not used by scenario '{scenario.Name}': {string.Join(", ", unread)}.", nameof(overrides));
        }

        return (settings, new TrainingLoop(setup));
    }

    /// <summary>Runs a scenario configuration with a monitor watching every <c>Linear</c> layer.</summary>
    /// <param name="scenario">The scenario.</param>
    /// <param name="config">Its configuration.</param>
    /// <param name="seed">Seed of torch's global generator, the data stream and the monitor.</param>
    /// <param name="options">Run options.</param>
    /// <returns>The summary (also written to the record's end line and to the summary file).</returns>
    public static RunSummary Run(Scenario scenario, string config, int seed, RunOptions options)
    {
        ArgumentNullException.ThrowIfNull(scenario);
        ArgumentNullException.ThrowIfNull(options);
        var wall = Stopwatch.StartNew();
        var cpuAtStart = Process.GetCurrentProcess().TotalProcessorTime;
        var (settings, loop) = Prepare(scenario, config, seed, options.Overrides, options.Threads);
        using var setup = loop.Setup;

        var monitorOptions = new SpectralMonitorOptions
        {
            Interval = options.Interval,
            Seed = seed,
            // The default rule exactly as shipped, plus the paper's absolute rule; each rule keeps its own
            // episodes, so adding the second does not change what the first reports.
            Detection = new DetectionOptions { Rules = [new BaselineRelativeRule(), new AbsoluteSignCollapseRule()] },
        };
        using var monitor = options.Monitor ? new SpectralMonitor(monitorOptions) : null;
        var watches = monitor?.WatchAll(setup.Model) ?? [];
        if (monitor is not null)
            ScenarioLinks.Apply(monitor);

        string recordPath = Path.Combine(options.OutputDirectory, RunRecords.RecordFileName(scenario.Name, config, seed));
        using var recorder = new RunRecorder(recordPath);
        var alerts = new List<AlertRecord>();
        if (monitor is not null)
        {
            monitor.Measured += (_, m) => recorder.Write(m);
            monitor.CollapseDetected += (_, a) =>
            {
                var record = AlertRecord.From(a);
                alerts.Add(record);
                recorder.Write(record);
            };
        }

        recorder.Write(new RunHeader
        {
            Scenario = scenario.Name,
            Config = config,
            Seed = seed,
            Threads = options.Threads,
            Settings = settings.Values,
            Monitor = options.Monitor
                ? new Dictionary<string, string>
                {
                    ["interval"] = options.Interval.ToString(CultureInfo.InvariantCulture),
                    ["maxSamplesPerLayer"] = monitorOptions.MaxSamplesPerLayer.ToString(CultureInfo.InvariantCulture),
                    ["warmupSteps"] = monitorOptions.Detection.WarmupSteps.ToString(CultureInfo.InvariantCulture),
                    ["consecutiveMeasurements"] = monitorOptions.Detection.ConsecutiveMeasurements.ToString(CultureInfo.InvariantCulture),
                    ["rules"] = string.Join(",", monitorOptions.Detection.Rules.Select(r => r.Reason)),
                    ["version"] = MonitorVersion,
                }
                : new Dictionary<string, string> { ["enabled"] = "false" },
            GroundTruth = new Dictionary<string, double> { ["settlingSteps"] = GroundTruth.SettlingSteps, ["factor"] = GroundTruth.Factor },
            ForkStep = setup.ForkStep,
            Layers = watches.Select(w => new WatchedLayerInfo(w.Name, w.InFeatures, w.OutFeatures)).ToArray(),
            StartedUtc = DateTimeOffset.UtcNow,
        });

        var tracker = new ExplosionTracker();
        var train = Stopwatch.StartNew();
        double minLoss = double.PositiveInfinity, lastLoss = double.NaN, maxRatio = 0;
        string stopReason = "completed";
        string tag = $"[{scenario.Name}/{config}/s{seed}]";
        setup.Model.train();
        while (!loop.Finished)
        {
            var result = loop.Step();
            long step = result.Step;
            double loss = result.Loss;

            double runningMin = tracker.RunningMinimum;
            bool exploded = tracker.Observe(step, loss);
            recorder.Write(new StepRecord
            {
                Step = step,
                Loss = loss,
                GradNorm = result.GradNorm,
                Lr = result.LearningRate,
                Ratio = double.IsFinite(runningMin) ? loss / runningMin : double.NaN,
                Elapsed = train.Elapsed.TotalSeconds,
                MaxAttentionLogit = setup.MaxAttentionLogit?.Invoke(),
            });
            options.AfterStep?.Invoke(loop, result);
            monitor?.Step();

            lastLoss = loss;
            if (double.IsFinite(loss))
                minLoss = Math.Min(minLoss, loss);
            if (tracker.ExplosionStep is null && step >= GroundTruth.SettlingSteps && double.IsFinite(tracker.LastRatio))
                maxRatio = Math.Max(maxRatio, tracker.LastRatio);
            if (exploded)
                options.Log?.WriteLine(FormattableString.Invariant($"  {tag} EXPLOSION at step {step}: loss {loss:G4} (running min {runningMin:G4})"));
            if (options.Log is not null && options.LogEvery > 0 && step % options.LogEvery == 0)
                options.Log.WriteLine(FormattableString.Invariant($"  {tag} step {step,5} loss {loss,8:F4} grad {result.GradNorm,9:G4} lr {result.LearningRate:G3} {train.Elapsed.TotalSeconds,6:F1}s"));
            if (options.PostExplosionSteps is not { } post)
                continue;
            if (!double.IsFinite(loss))
            {
                stopReason = "non-finite";
                break;
            }

            if (tracker.ExplosionStep is { } e && step >= e + post)
            {
                stopReason = "exploded";
                break;
            }
        }

        train.Stop();
        var summary = new RunSummary
        {
            Scenario = scenario.Name,
            Config = config,
            Seed = seed,
            ExplosionStep = tracker.ExplosionStep,
            ForkStep = setup.ForkStep,
            StepsRun = loop.NextStep,
            StepsPlanned = setup.Steps,
            StopReason = stopReason,
            WallSeconds = wall.Elapsed.TotalSeconds,
            TrainSeconds = train.Elapsed.TotalSeconds,
            CpuSeconds = (Process.GetCurrentProcess().TotalProcessorTime - cpuAtStart).TotalSeconds,
            Threads = options.Threads,
            Interval = options.Interval,
            MinLoss = minLoss,
            FinalLoss = lastLoss,
            MaxRatioBeforeExplosion = maxRatio,
            Alerts = alerts,
        };
        recorder.Write(summary);
        File.WriteAllText(
            Path.Combine(options.OutputDirectory, RunRecords.SummaryFileName(scenario.Name, config, seed)),
            System.Text.Json.JsonSerializer.Serialize(summary, IndentedOptions));
        return summary;
    }

    /// <summary>
    /// One optimizer step of <paramref name="setup"/> at <paramref name="step"/> (see <see cref="TrainingLoop.Step"/>,
    /// which this wraps for loops that keep their own step counter).
    /// </summary>
    /// <param name="setup">The run's setup.</param>
    /// <param name="parameters">The model's parameters (for the gradient norm and clipping).</param>
    /// <param name="step">The step.</param>
    /// <returns>The loss, the gradient norm (NaN when skipped) and the learning rate.</returns>
    public static (double Loss, double GradNorm, double LearningRate) TrainStep(TrainingSetup setup, TorchSharp.Modules.Parameter[] parameters, long step)
    {
        ArgumentNullException.ThrowIfNull(setup);
        var clipping = setup.ClipNorm > 0 ? new NormClipping(setup.ClipNorm) : null;
        var r = TrainingLoop.Execute(setup, parameters, step, 1, clipping);
        return (r.Loss, r.GradNorm, r.LearningRate);
    }

    // The exponent of square() kept reachable: TorchSharp's square() is pow(2) with a temporary Scalar that a
    // collection on another thread can free while libtorch reads it (seen once in the test suite as "INTERNAL ASSERT
    // FAILED at c10/core/Scalar.h" in pow; see SpectralAlign's Spectral/Scalars.cs). The same integer exponent, so the
    // same kernel and bit-identical results.
    private static readonly Scalar s_two = 2.ToScalar();

    /// <summary>L2 norm of the concatenation of all gradients (float32 accumulation).</summary>
    /// <param name="parameters">The parameters.</param>
    /// <returns>The norm, or NaN/∞ when a gradient is not finite.</returns>
    public static double GlobalGradNorm(IEnumerable<Tensor> parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var squares = new List<Tensor>();
        foreach (var p in parameters)
        {
            if (p.grad is { } g)
                squares.Add(g.to(ScalarType.Float32).pow(s_two).sum());
        }

        return squares.Count == 0 ? 0 : stack(squares).sum().sqrt().item<float>();
    }
}
