using System.Globalization;

namespace SpectralAlign.Guard;

/// <summary>
/// Where the guard's triggers gather between steps: the monitor's alerts and <see cref="TrainingGuard.Trip"/> calls
/// (from any thread, under a lock), and at each step the loss's own triggers (not finite, or a spike against the
/// recent window), as the options enable them.
/// </summary>
internal sealed class TriggerInbox(TrainingGuardOptions options)
{
    private readonly object _gate = new();
    private readonly List<CollapseAlert> _alerts = [];
    private readonly List<GuardTrigger> _trips = [];
    private readonly LossSpikeCheck _spikes = new(options.LossSpikeWindow, options.LossSpikeFactor, options.LossSpikeDeviations);

    /// <summary>Takes a monitor alert, unless the options ignore alerts. Any thread.</summary>
    public void Alert(CollapseAlert alert)
    {
        if (!options.ActOnAlerts)
            return;
        lock (_gate)
            _alerts.Add(alert);
    }

    /// <summary>Takes a manual trip at <paramref name="step"/>. Any thread.</summary>
    public void Trip(string reason, long step)
    {
        lock (_gate)
            _trips.Add(new GuardTrigger(GuardTriggerKind.Manual, reason, CollapseAlert.RunLayer, step, step, "Trip"));
    }

    /// <summary>The triggers of <paramref name="step"/>: those gathered since the last call, then the loss's.</summary>
    public List<GuardTrigger> Collect(long step, double loss)
    {
        var triggers = new List<GuardTrigger>();
        lock (_gate)
        {
            triggers.AddRange(_alerts.Select(a => new GuardTrigger(GuardTriggerKind.Alert, a.Reason, a.Layer, a.Step, Math.Min(a.EpisodeStartStep, a.Step), a.Detail)));
            triggers.AddRange(_trips);
            _alerts.Clear();
            _trips.Clear();
        }

        if (!double.IsFinite(loss))
        {
            if (options.ActOnNonFiniteLoss)
                triggers.Add(new GuardTrigger(GuardTriggerKind.NonFiniteLoss, "NonFiniteLoss", CollapseAlert.RunLayer, step, step, string.Create(CultureInfo.InvariantCulture, $"loss {loss}")));
        }
        else if (options.DetectLossSpikes && _spikes.IsSpike(loss, out var detail))
        {
            triggers.Add(new GuardTrigger(GuardTriggerKind.LossSpike, "LossSpike", CollapseAlert.RunLayer, step, step, detail));
        }

        return triggers;
    }

    /// <summary>Forgets the recent losses (after an intervention they belong to another trajectory).</summary>
    public void ForgetLosses() => _spikes.Reset();

    /// <summary>The loss-spike window, oldest first, for checkpoints.</summary>
    public double[] SaveLosses() => _spikes.Save();

    /// <summary>Restores what <see cref="SaveLosses"/> returned.</summary>
    public void RestoreLosses(IEnumerable<double> losses) => _spikes.Restore(losses);
}
