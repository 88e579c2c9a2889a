using SpectralAlign.Hooks;
using SpectralAlign.Spectral;
using SpectralAlign.Telemetry;
using static TorchSharp.torch;

namespace SpectralAlign.Monitoring;

/// <summary>
/// Decides when the hooks capture: owns the step counter (the step the next forward pass belongs to), tells which
/// steps are measured, gives each watch the receiver its hooks deliver to, and watches for hooks that stopped firing.
/// The receivers run on the forward thread without the monitor's lock; they touch only the counter, the layers'
/// captures and the publisher's immediate reports.
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001:Types that own disposable fields should be disposable", Justification = "Stop() disposes the index; the monitor calls it when disposed.")]
internal sealed class CaptureScheduler(int interval, int silentHookSteps, StepPublisher publisher)
{
    private readonly StepPublisher _publisher = publisher;
    private readonly HostRowIndex _index = new();
    private long _step;
    private volatile bool _stopped;

    /// <summary>When set, hook work is timed into it (benchmarks).</summary>
    public CostProfile? Profile { get; set; }

    /// <summary>The step the next forward pass belongs to.</summary>
    public long CurrentStep => Interlocked.Read(ref _step);

    public bool IsMeasuredStep(long step) => step >= 0 && step % interval == 0;

    /// <summary>Marks <paramref name="step"/> as done: the next forward pass belongs to the step after it.</summary>
    public void Complete(long step) => Interlocked.Exchange(ref _step, step + 1);

    /// <summary>Continues counting from a restored step.</summary>
    public void Restore(long step) => Interlocked.Exchange(ref _step, step);

    /// <summary>From now on no hook captures anything (the monitor is disposed); the hooks' index tensor is freed.</summary>
    public void Stop()
    {
        _stopped = true;
        _index.Dispose();
    }

    /// <summary>Frees the index tensor the hooks shared during a step (called at the end of every step).</summary>
    public void ReleaseStepIndex() => _index.Release();

    /// <summary>The receiver of one watch's hooks.</summary>
    public IInputReceiver ReceiverFor(WatchEntry watch) => new Receiver(this, watch);

    /// <summary>The layers whose hook has just been silent for <c>silentHookSteps</c> steps (each reported once per
    /// silence), with how long.</summary>
    public List<(string Layer, long Steps)> FindSilentHooks(IReadOnlyList<WatchedLayer> layers, long step)
    {
        List<(string, long)>? silent = null;
        foreach (var layer in layers)
        {
            long last = Math.Max(layer.LastCallStep, layer.WatchedSinceStep - 1);
            if (last >= step)
            {
                layer.SilenceWarned = false;
                continue;
            }

            long steps = step - last;
            if (steps >= silentHookSteps && !layer.SilenceWarned)
            {
                layer.SilenceWarned = true;
                (silent ??= []).Add((layer.Name, steps));
            }
        }

        return silent ?? [];
    }

    private sealed class Receiver(CaptureScheduler scheduler, WatchEntry watch) : IInputReceiver
    {
        public bool BeginCall(nn.Module module)
        {
            long step = scheduler.CurrentStep;
            foreach (var layer in watch.Layers)
                layer.LastCallStep = step;
            return !scheduler._stopped && scheduler.IsMeasuredStep(step) && module.training && !SampleFull();
        }

        /// <summary>Whether every view of the watch already has its full sample for this step (with gradient
        /// accumulation, usually after the first micro-batch): the call then captures nothing.</summary>
        private bool SampleFull()
        {
            foreach (var layer in watch.Layers)
            {
                if (!layer.Capture.IsFull)
                    return false;
            }

            return true;
        }

        public void Deliver(int view, RowSource rows, Func<RowRecovery>? recovery = null)
        {
            var profile = scheduler.Profile;
            long start = profile is null ? 0 : CostProfile.Now;
            watch.Layers[view].Capture.Add(scheduler.CurrentStep, rows, recovery, scheduler._index);
            profile?.Add(CostProfile.Phase.Capture, start);
        }

        public void Reject(int view, Tensor input)
        {
            var layer = watch.Layers[view];
            if (Interlocked.Exchange(ref layer.InputMismatchWarned, 1) == 0)
                scheduler._publisher.InputRejected(layer, input);
        }

        public void Fail(Exception exception) => scheduler._publisher.CaptureFailed(watch.Handle.Name, scheduler.CurrentStep, exception);
    }
}
