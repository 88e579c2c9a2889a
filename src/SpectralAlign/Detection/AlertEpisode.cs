using System.Text.Json.Nodes;

namespace SpectralAlign.Detection;

/// <summary>
/// Turns a stream of per-measurement verdicts into alert episodes: an alert after <c>consecutive</c> anomalous
/// verdicts in a row, at most one per episode, re-armed after <c>recovery</c> normal verdicts in a row.
/// </summary>
internal sealed class AlertEpisode(int consecutive, int recovery)
{
    private int _anomalousRun;
    private int _normalRun;

    public bool Alerted { get; private set; }

    public long EpisodeStartStep { get; private set; }

    /// <summary>Feeds one verdict; returns true when this verdict raises the episode's alert.</summary>
    public bool Observe(VerdictKind verdict, long step)
    {
        switch (verdict)
        {
            case VerdictKind.Anomalous:
                if (_anomalousRun == 0)
                    EpisodeStartStep = step;
                _anomalousRun++;
                _normalRun = 0;
                if (!Alerted && _anomalousRun >= consecutive)
                {
                    Alerted = true;
                    return true;
                }

                return false;
            case VerdictKind.Normal:
                _normalRun++;
                _anomalousRun = 0;
                if (Alerted && _normalRun >= recovery)
                    Alerted = false;
                return false;
            default:
                return false;
        }
    }

    public JsonObject SaveState() => new()
    {
        ["anomalousRun"] = _anomalousRun,
        ["normalRun"] = _normalRun,
        ["alerted"] = Alerted,
        ["episodeStart"] = EpisodeStartStep,
    };

    public void LoadState(JsonNode state)
    {
        _anomalousRun = state["anomalousRun"]!.GetValue<int>();
        _normalRun = state["normalRun"]!.GetValue<int>();
        Alerted = state["alerted"]!.GetValue<bool>();
        EpisodeStartStep = state["episodeStart"]!.GetValue<long>();
    }
}
