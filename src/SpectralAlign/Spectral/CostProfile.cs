using System.Diagnostics;

namespace SpectralAlign.Spectral;

/// <summary>
/// Where the monitor's time goes, accumulated while a profile is attached (benchmarks and tests only; the hot path
/// pays one null check per phase when none is). Thread-safe. On a GPU the phases that enqueue kernels are timed
/// asynchronously; only the read-back waits for the device, so there it absorbs the others' device time.
/// </summary>
internal sealed class CostProfile
{
    private long _capture;
    private long _captureCalls;
    private long _assembly;
    private long _iteration;
    private long _statistics;
    private long _readback;
    private long _completion;
    private long _detector;
    private long _events;
    private long _measuredSteps;

    /// <summary>The phases of a measured step.</summary>
    public enum Phase
    {
        /// <summary>Hook work: subsampling and copying the input rows.</summary>
        Capture,

        /// <summary>Stacking each shape group's weights and rows.</summary>
        Assembly,

        /// <summary>Subspace (power) iteration and Rayleigh–Ritz.</summary>
        Iteration,

        /// <summary>SA cosines, their statistics and histograms, σ and residual columns.</summary>
        Statistics,

        /// <summary>The device-to-host transfer of all results.</summary>
        Readback,

        /// <summary>Building the measurements on the host and keeping the warm bases.</summary>
        Completion,

        /// <summary>Detection rules.</summary>
        Detector,

        /// <summary>Logging, events and sinks.</summary>
        Events,
    }

    /// <summary>A timestamp to pass to <see cref="Add"/>.</summary>
    public static long Now => Stopwatch.GetTimestamp();

    /// <summary>Measured steps profiled.</summary>
    public long MeasuredSteps => Interlocked.Read(ref _measuredSteps);

    /// <summary>Hook calls that captured rows.</summary>
    public long CaptureCalls => Interlocked.Read(ref _captureCalls);

    /// <summary>Adds the time since <paramref name="start"/> to <paramref name="phase"/>.</summary>
    public void Add(Phase phase, long start)
    {
        long elapsed = Stopwatch.GetTimestamp() - start;
        switch (phase)
        {
            case Phase.Capture:
                Interlocked.Add(ref _capture, elapsed);
                Interlocked.Increment(ref _captureCalls);
                break;
            case Phase.Assembly: Interlocked.Add(ref _assembly, elapsed); break;
            case Phase.Iteration: Interlocked.Add(ref _iteration, elapsed); break;
            case Phase.Statistics: Interlocked.Add(ref _statistics, elapsed); break;
            case Phase.Readback: Interlocked.Add(ref _readback, elapsed); break;
            case Phase.Completion: Interlocked.Add(ref _completion, elapsed); break;
            case Phase.Detector: Interlocked.Add(ref _detector, elapsed); break;
            case Phase.Events: Interlocked.Add(ref _events, elapsed); break;
            default: throw new ArgumentOutOfRangeException(nameof(phase));
        }
    }

    /// <summary>Counts one profiled measured step.</summary>
    public void CountMeasuredStep() => Interlocked.Increment(ref _measuredSteps);

    /// <summary>Total time of a phase so far.</summary>
    public TimeSpan Total(Phase phase) => Stopwatch.GetElapsedTime(0, phase switch
    {
        Phase.Capture => Interlocked.Read(ref _capture),
        Phase.Assembly => Interlocked.Read(ref _assembly),
        Phase.Iteration => Interlocked.Read(ref _iteration),
        Phase.Statistics => Interlocked.Read(ref _statistics),
        Phase.Readback => Interlocked.Read(ref _readback),
        Phase.Completion => Interlocked.Read(ref _completion),
        Phase.Detector => Interlocked.Read(ref _detector),
        Phase.Events => Interlocked.Read(ref _events),
        _ => throw new ArgumentOutOfRangeException(nameof(phase)),
    });
}
