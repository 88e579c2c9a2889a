namespace SpectralAlign.Detection;

/// <summary>
/// The episode state machine of one rule and subject: an alert after <c>persistence</c> anomalous verdicts in a row,
/// at most one per episode, re-armed after <c>recovery</c> normal verdicts in a row. Observations without a verdict
/// (a scorer still learning) are not fed.
/// </summary>
internal sealed class AlertEpisode(int persistence, int recovery)
{
    private int _anomalousRun;
    private int _normalRun;

    public bool Alerted { get; private set; }

    public long EpisodeStartStep { get; private set; }

    /// <summary>Feeds one verdict; returns true when this verdict raises the episode's alert.</summary>
    public bool Observe(bool anomalous, long step)
    {
        if (!anomalous)
        {
            _normalRun = Saturated(_normalRun);
            _anomalousRun = 0;
            if (Alerted && _normalRun >= recovery)
                Alerted = false;
            return false;
        }

        if (_anomalousRun == 0)
            EpisodeStartStep = step;
        _anomalousRun = Saturated(_anomalousRun);
        _normalRun = 0;
        if (Alerted || _anomalousRun < persistence)
            return false;
        Alerted = true;
        return true;
    }

    public EpisodeState Save() => new()
    {
        AnomalousRun = _anomalousRun,
        NormalRun = _normalRun,
        Alerted = Alerted,
        EpisodeStart = EpisodeStartStep,
    };

    /// <summary>Restores counters validated by <see cref="EpisodeState.ThrowIfInvalid"/>.</summary>
    public void Load(EpisodeState state)
    {
        _anomalousRun = state.AnomalousRun;
        _normalRun = state.NormalRun;
        Alerted = state.Alerted;
        EpisodeStartStep = state.EpisodeStart;
    }

    /// <summary>A run counter plus one, held at <see cref="int.MaxValue"/>: a very long run of verdicts never wraps
    /// negative (which a saved state would then fail to load).</summary>
    private static int Saturated(int run) => run == int.MaxValue ? run : run + 1;
}
