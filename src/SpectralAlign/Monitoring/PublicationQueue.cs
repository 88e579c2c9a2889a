namespace SpectralAlign.Monitoring;

/// <summary>
/// The steps concluded but not yet published, in step order, and who publishes them: one thread at a time drains the
/// queue, so steps are published whole, one after another, in the order they were added — also when
/// <see cref="SpectralMonitor.Step()"/> and <see cref="SpectralMonitor.Flush"/> overlap on several threads.
/// </summary>
/// <remarks>
/// The monitor adds outcomes under its own lock, in the order it concludes the steps, and drains after releasing it.
/// A thread that finds a drain under way — on another thread, or further up its own stack (a handler that calls
/// <see cref="SpectralMonitor.Step()"/> or <see cref="SpectralMonitor.Flush"/>) — leaves its steps to that drain and
/// returns without waiting: the publishing thread runs user handlers, which may themselves wait for the caller, so
/// waiting for it could deadlock. No user code runs under this queue's lock, and the monitor's lock is only ever
/// taken before it, never inside it.
/// </remarks>
internal sealed class PublicationQueue(Action<StepOutcome> publish)
{
    private readonly object _lock = new();
    private readonly Queue<StepOutcome> _pending = new();
    private bool _draining;

    /// <summary>Queues a concluded step for publication; <c>null</c> is ignored. Called under the monitor's lock, in
    /// step order.</summary>
    public void Add(StepOutcome? outcome)
    {
        if (outcome is null)
            return;
        lock (_lock)
            _pending.Enqueue(outcome);
    }

    /// <summary>Releases every queued step without publishing it (the monitor is disposed). Called under the monitor's
    /// lock; a drain under way then finds the queue empty.</summary>
    public void Discard()
    {
        List<StepOutcome> dropped;
        lock (_lock)
        {
            dropped = [.. _pending];
            _pending.Clear();
        }

        foreach (var outcome in dropped)
            outcome.Dispose();
    }

    /// <summary>Publishes every queued step on the calling thread, oldest first, including those queued meanwhile —
    /// unless a drain is already under way, which publishes them instead. Never throws what a step's publication
    /// catches (the publisher isolates handlers, sinks and metrics listeners); should a publication throw all the
    /// same, the steps after it are still published, each independently, before the exception propagates.</summary>
    public void Drain()
    {
        lock (_lock)
        {
            if (_draining)
                return;
            _draining = true;
        }

        bool drained = false;
        try
        {
            while (TakeNext() is { } next)
                publish(next);
            drained = true;
        }
        finally
        {
            if (!drained)
            {
                // Something escaped a publication: publish the rest now (one failure must not hold back other steps).
                lock (_lock)
                    _draining = false;
                Drain();
            }
        }
    }

    /// <summary>The oldest queued step; <c>null</c> when there is none, ending the drain in the same critical section
    /// (so that a step queued just after is drained by its own caller).</summary>
    private StepOutcome? TakeNext()
    {
        lock (_lock)
        {
            if (_pending.TryDequeue(out var next))
                return next;
            _draining = false;
            return null;
        }
    }
}
