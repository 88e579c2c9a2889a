using System.Diagnostics;

namespace SpectralAlign.Spectral;

/// <summary>
/// Where the monitor's time goes, accumulated while a profile is attached (benchmarks and tests only; the hot path
/// pays one null check per phase when none is). Thread-safe. On a GPU the phases that enqueue kernels are timed
/// asynchronously; only the read-back waits for the device, so there it absorbs the others' device time.
/// </summary>
internal sealed class CostProfile
{
    private readonly long[] _ticks = new long[Enum.GetValues<Phase>().Length];
    private long _captureCalls;
    private long _measuredSteps;

    /// <summary>The phases of a measured step.</summary>
    public enum Phase
    {
        /// <summary>Hook work: subsampling and copying the input rows.</summary>
        Capture,

        /// <summary>Stacking each bucket's weights and warm bases, and its rows off the CPU.</summary>
        Assembly,

        /// <summary>Subspace (power) iteration, Rayleigh–Ritz and the update sketch.</summary>
        Iteration,

        /// <summary>The rows' norms and products for the SA cosines (plain and centred) — on the host for CPU tensors
        /// (<see cref="HostRows"/>), else on the device — and the σ and residual columns.</summary>
        Statistics,

        /// <summary>The device-to-host transfer of all results.</summary>
        Readback,

        /// <summary>The statistics and measurements on the host, keeping the warm state.</summary>
        Completion,

        /// <summary>Detection rules.</summary>
        Detector,

        /// <summary>Logging, events and sinks.</summary>
        Events,

        /// <summary>With <see cref="SpectralMonitorOptions.MeasureInBackground"/>: copying the weights and waiting for
        /// the background measurement, on the training thread (the engine's phases above then run on the
        /// worker).</summary>
        Handoff,
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
        Interlocked.Add(ref _ticks[(int)phase], Stopwatch.GetTimestamp() - start);
        if (phase == Phase.Capture)
            Interlocked.Increment(ref _captureCalls);
    }

    /// <summary>Counts one profiled measured step.</summary>
    public void CountMeasuredStep() => Interlocked.Increment(ref _measuredSteps);

    /// <summary>Total time of a phase so far.</summary>
    public TimeSpan Total(Phase phase) => Stopwatch.GetElapsedTime(0, Interlocked.Read(ref _ticks[(int)phase]));
}
