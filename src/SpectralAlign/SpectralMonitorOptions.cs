using System.Diagnostics.Metrics;
using SpectralAlign.Detection;
using SpectralAlign.Telemetry;

namespace SpectralAlign;

/// <summary>
/// Settings of a <see cref="SpectralMonitor"/>. Plain settable properties with their defaults declared here; the
/// monitor validates them (listing every problem at once) and takes a copy, so changing the object afterwards has no
/// effect on a running monitor.
/// </summary>
public sealed class SpectralMonitorOptions
{
    /// <summary>Measure every <c>Interval</c>-th step (steps 0, Interval, 2·Interval, …). On other steps the hooks
    /// return at once and <see cref="SpectralMonitor.Step()"/> only advances the counter. Default <c>10</c>.</summary>
    public int Interval { get; set; } = 10;

    /// <summary>At most this many input rows per layer and measured step enter the SA distribution; larger inputs are
    /// subsampled uniformly without replacement, reproducibly from <see cref="Seed"/>. Default <c>256</c>.</summary>
    public int MaxSamplesPerLayer { get; set; } = 256;

    /// <summary>Warm-started subspace-iteration steps per measurement (the minimum; a layer whose residual stays
    /// above <see cref="ResidualTolerance"/> gets more on its next measurements, up to
    /// <see cref="MaxWarmIterations"/>). Default <c>2</c>.</summary>
    public int PowerIterations { get; set; } = 2;

    /// <summary>Ceiling of the adaptive warm iteration count of each layer (layers measured together still iterate
    /// only as often as each needs: a slow layer's extra steps run on it alone). Bounds the cost of early training,
    /// when nearly tied top singular values keep residuals high; 8 meets the accuracy targets on the demo model's runs
    /// (tests/SpectralAlign.Benchmarks/RESULTS.md). Default <c>8</c>.</summary>
    public int MaxWarmIterations { get; set; } = 8;

    /// <summary>Width k of the iterated subspace. The top singular vector is extracted from it by a Rayleigh–Ritz
    /// step, so a layer whose top singular values are nearly tied still converges as fast as σ_{k+1}/σ1 allows,
    /// and σ2 comes for free. Reading the weight dominates the cost, so k up to ~8 costs about the same as k = 1.
    /// Clamped to the layer's input width. Default <c>4</c>.</summary>
    public int SubspaceDimension { get; set; } = 4;

    /// <summary>Relative residual ‖WᵀW v − σ1² v‖/σ1² below which v1 counts as converged. A warm measurement whose
    /// residual ends above it is flagged <see cref="MeasurementConditions.NotConverged"/> and the layer gets more
    /// iterations from its next measurement on, without an extra device synchronisation now. Default <c>1e-3</c>.</summary>
    public double ResidualTolerance { get; set; } = 1e-3;

    /// <summary>A residual above this means the warm start is lost (the weight changed abruptly): the layer is
    /// iterated to convergence within the same step, like a cold start (the only cases in which a step reads device
    /// results more than once). Default <c>0.05</c>.</summary>
    public double RestartResidual { get; set; } = 0.05;

    /// <summary>Cap on subspace-iteration steps for a cold start or restart. Default <c>200</c>.</summary>
    public int MaxPowerIterations { get; set; } = 200;

    /// <summary>Bins of <see cref="SpectralAlignmentStats.Histogram"/> over [-1, 1]. Default <c>20</c>.</summary>
    public int HistogramBins { get; set; } = 20;

    /// <summary>Seed of the monitor's private random streams (row subsampling, cold-start vectors). The monitor never
    /// draws from torch's global generator. Default <c>0</c>.</summary>
    public int Seed { get; set; }

    /// <summary>A watched layer whose hook has not fired for this many consecutive steps gets one warning in the log
    /// (usually it is being invoked with <c>forward()</c> instead of <c>call()</c>). Default <c>5</c>.</summary>
    public int SilentHookSteps { get; set; } = 5;

    /// <summary>Whether <see cref="SpectralMonitor.WatchAll"/> links consecutive Linears of a <c>Sequential</c> (separated
    /// only by activations or dropout) for <see cref="LayerMeasurement.UpstreamAlignment"/>. Default: <c>true</c>.</summary>
    public bool AutoLink { get; set; } = true;

    /// <summary>
    /// Whether a measured step's computation runs on a thread-pool thread while training goes on. <see cref="SpectralMonitor.Step()"/>
    /// then only copies the watched weights (the optimizer changes them in place) and starts the measurement; the
    /// measurements, alerts, events, sinks and log lines of step t are published by the next call of
    /// <see cref="SpectralMonitor.Step()"/> (or <see cref="SpectralMonitor.Flush"/>), on the calling thread, with the
    /// same values a foreground measurement gives — one step later, so a <see cref="TrainingGuard"/> acts one step later.
    /// It pays only where training leaves a core idle: on the benchmark's demo model with one torch thread on two cores,
    /// the training thread's share at the default interval is 0.3–0.4% of the step time against ≈ 2% in the
    /// foreground; at <see cref="Interval"/> = 1 the step time a user sees varies from run to run between about half
    /// the foreground's and the foreground's (+5% to +11% against +8% to +11%: the worker running beside training also
    /// slows it); with torch's intra-op threads on both cores the worker
    /// competes with training and costs more than the foreground (+32% against +27%;
    /// tests/SpectralAlign.Benchmarks/RESULTS.md). Costs one copy of the watched weights per measured step; not yet
    /// measured on a GPU. The monitor's other entry points that read the layers (<see cref="LayerWatch.LastMeasurement"/>,
    /// <see cref="LayerWatch.CopySingularVector"/>, <see cref="SpectralMonitor.SaveState(Stream)"/>, watching, unwatching,
    /// the guard) first wait for a measurement still running; <see cref="SpectralMonitor.LoadState(Stream)"/> and
    /// <see cref="SpectralMonitor.Dispose"/> drop one not yet published, so call <see cref="SpectralMonitor.Flush"/> after
    /// the last step. The worker allocates while the training loop runs, so the loop's own TorchSharp 0.107 calls that
    /// make temporary <c>Scalar</c>s (the optimizers' <c>step()</c>, <c>t * 0.5</c>) become exposed to the failure the
    /// README describes under Threading, as with any other thread that allocates. Default <c>false</c>.
    /// </summary>
    public bool MeasureInBackground { get; set; }

    /// <summary>Detection rules and episode settings. Default: see <see cref="DetectionOptions"/>.</summary>
    public DetectionOptions Detection { get; set; } = new();

    /// <summary>Creates the meter the monitor's metrics (<see cref="SpectralMetrics"/>) are recorded on, for
    /// dependency-injection hosts and tests; the factory owns that meter. Default <c>null</c>: the process-wide
    /// <c>SpectralAlign</c> meter, shared by every monitor. Either way nothing is recorded until a listener
    /// subscribes.</summary>
    public IMeterFactory? MeterFactory { get; set; }

    /// <summary>Tags added to every metric measurement besides <c>layer</c> (and <c>reason</c> on alerts), so that
    /// the processes of one distributed job, or several runs, can be told apart and aggregated by a collector: e.g.
    /// <c>run</c> = "exp-42", <c>rank</c> = 3. Values should have few distinct values per run. Default: none.</summary>
    public IDictionary<string, object?> MetricTags { get; set; } = new Dictionary<string, object?>();

    /// <summary>Lists every problem with these options; empty when they are valid.</summary>
    /// <returns>The problems, one sentence each.</returns>
    public IReadOnlyList<string> Validate()
    {
        var problems = new List<string>();
        if (Interval < 1)
            problems.Add($"Interval must be >= 1 (was {Interval}).");
        if (MaxSamplesPerLayer < 1)
            problems.Add($"MaxSamplesPerLayer must be >= 1 (was {MaxSamplesPerLayer}).");
        if (PowerIterations < 1)
            problems.Add($"PowerIterations must be >= 1 (was {PowerIterations}).");
        if (SubspaceDimension < 1)
            problems.Add($"SubspaceDimension must be >= 1 (was {SubspaceDimension}).");
        if (!(ResidualTolerance > 0 && ResidualTolerance < 1))
            problems.Add($"ResidualTolerance must be in (0, 1) (was {ResidualTolerance}).");
        if (MaxWarmIterations < PowerIterations)
            problems.Add($"MaxWarmIterations must be >= PowerIterations ({PowerIterations}) (was {MaxWarmIterations}).");
        if (MaxPowerIterations < PowerIterations)
            problems.Add($"MaxPowerIterations must be >= PowerIterations ({PowerIterations}) (was {MaxPowerIterations}).");
        if (!(RestartResidual > ResidualTolerance && RestartResidual <= 1))
            problems.Add($"RestartResidual must be in (ResidualTolerance, 1] (was {RestartResidual}).");
        if (HistogramBins < 2)
            problems.Add($"HistogramBins must be >= 2 (was {HistogramBins}).");
        if (SilentHookSteps < 1)
            problems.Add($"SilentHookSteps must be >= 1 (was {SilentHookSteps}).");
        if (MetricTags is null)
        {
            problems.Add("MetricTags must not be null (use an empty dictionary).");
        }
        else
        {
            foreach (var key in MetricTags.Keys)
            {
                if (string.IsNullOrWhiteSpace(key))
                    problems.Add("MetricTags must not have an empty key.");
                else if (key is SpectralMetrics.LayerTag or SpectralMetrics.ReasonTag)
                    problems.Add($"MetricTags must not use the reserved key '{key}' (set by the metrics themselves).");
            }
        }

        if (Detection is null)
            problems.Add("Detection must not be null.");
        else
            problems.AddRange(Detection.Validate());
        return problems;
    }

    /// <summary>A deep copy (the detection rules themselves are shared; they are stateless).</summary>
    /// <returns>The copy.</returns>
    public SpectralMonitorOptions Clone() => new()
    {
        Interval = Interval,
        MaxSamplesPerLayer = MaxSamplesPerLayer,
        PowerIterations = PowerIterations,
        SubspaceDimension = SubspaceDimension,
        MaxWarmIterations = MaxWarmIterations,
        ResidualTolerance = ResidualTolerance,
        RestartResidual = RestartResidual,
        MaxPowerIterations = MaxPowerIterations,
        HistogramBins = HistogramBins,
        Seed = Seed,
        SilentHookSteps = SilentHookSteps,
        AutoLink = AutoLink,
        MeasureInBackground = MeasureInBackground,
        MeterFactory = MeterFactory,
        MetricTags = MetricTags is null ? null! : new Dictionary<string, object?>(MetricTags),
        Detection = Detection?.Clone()!,
    };

    /// <summary>The engine's part of these options (validate first).</summary>
    internal Spectral.EngineSettings ToEngineSettings() => new()
    {
        PowerIterations = PowerIterations,
        MaxWarmIterations = MaxWarmIterations,
        MaxPowerIterations = MaxPowerIterations,
        SubspaceDimension = SubspaceDimension,
        ResidualTolerance = ResidualTolerance,
        RestartResidual = RestartResidual,
        HistogramBins = HistogramBins,
        Seed = Seed,
    };

    internal void ThrowIfInvalid(string paramName) => OptionProblems.ThrowIfAny(Validate(), nameof(SpectralMonitorOptions), paramName);
}
