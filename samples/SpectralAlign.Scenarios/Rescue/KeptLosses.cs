namespace SpectralAlign.Scenarios.Rescue;

/// <summary>
/// The loss series a run keeps: ℓ_t for every step t it has run, where a rollback discards the steps it undoes and
/// their recomputation overwrites them. <see cref="ExplosionStep"/> applies <see cref="GroundTruth"/> to this series
/// (not to the abandoned trajectories), so a run rescued by a rollback counts as not exploded.
/// </summary>
public sealed class KeptLosses
{
    private readonly List<double> _losses = [];
    private ExplosionTracker _tracker = new();

    /// <summary>Steps kept (the next step to record is this one).</summary>
    public int Count => _losses.Count;

    /// <summary>The ground-truth explosion step of the kept series, or null.</summary>
    public long? ExplosionStep => _tracker.ExplosionStep;

    /// <summary>The kept losses, index = step.</summary>
    public IReadOnlyList<double> Losses => _losses;

    /// <summary>Records the loss of <paramref name="step"/>; a step below <see cref="Count"/> first discards it and
    /// everything after it (a recomputation after a rollback).</summary>
    /// <param name="step">The step, at most <see cref="Count"/>.</param>
    /// <param name="loss">Its loss.</param>
    /// <returns>True when this step is the kept series' explosion step.</returns>
    /// <exception cref="ArgumentOutOfRangeException">A gap: <paramref name="step"/> &gt; <see cref="Count"/>.</exception>
    public bool Record(long step, double loss)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(step, _losses.Count);
        ArgumentOutOfRangeException.ThrowIfNegative(step);
        if (step < _losses.Count)
            Truncate(step);
        _losses.Add(loss);
        return _tracker.Observe(step, loss);
    }

    /// <summary>Discards the steps from <paramref name="step"/> on (a rollback to before that step).</summary>
    /// <param name="step">The first step discarded.</param>
    public void Truncate(long step)
    {
        if (step >= _losses.Count)
            return;
        _losses.RemoveRange((int)step, _losses.Count - (int)step);
        _tracker = new ExplosionTracker();
        for (int t = 0; t < _losses.Count; t++)
            _tracker.Observe(t, _losses[t]);
    }

    /// <summary>The mean of the last <paramref name="window"/> kept losses, or NaN when fewer are kept or one is not
    /// finite.</summary>
    /// <param name="window">How many.</param>
    /// <returns>The mean.</returns>
    public double FinalLoss(int window)
    {
        if (window < 1 || _losses.Count < window)
            return double.NaN;
        double sum = 0;
        for (int i = _losses.Count - window; i < _losses.Count; i++)
            sum += _losses[i];
        return double.IsFinite(sum) ? sum / window : double.NaN;
    }
}
