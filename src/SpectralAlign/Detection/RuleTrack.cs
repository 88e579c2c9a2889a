using System.Globalization;

namespace SpectralAlign.Detection;

/// <summary>
/// One rule's verdicts for one subject: its scorer (created on first use), its threshold and its episode. Every call
/// into the rule's code is isolated: an exception drops the scorer for this subject and becomes a
/// <see cref="RuleFault"/>; the track then stays silent.
/// </summary>
internal sealed class RuleTrack<TInput>(DetectionRule rule, string subject, double threshold, int persistence, int recovery, Func<RuleScorer<TInput>> create)
{
    private RuleScorer<TInput>? _scorer;

    public DetectionRule Rule => rule;

    public string Subject => subject;

    public double Threshold => threshold;

    public AlertEpisode Episode { get; } = new(persistence, recovery);

    public bool Faulted { get; private set; }

    /// <summary>Scores one observation; returns the alert's detail when it raises an alert, else <c>null</c>.</summary>
    public string? Observe(long step, TInput input, List<RuleScore> scores, List<RuleFault> faults)
    {
        if (Faulted)
            return null;
        double score;
#pragma warning disable CA1031 // A rule must never throw into the training loop (contract of CollapseDetector).
        try
        {
            _scorer ??= create();
            if (_scorer.Score(step, input) is not { } value || double.IsNaN(value))
                return null;
            score = value;
        }
        catch (Exception ex)
        {
            Fail(step, ex, faults);
            return null;
        }

        scores.Add(new RuleScore(rule.Reason, subject, step, score, threshold));
        if (!Episode.Observe(score >= threshold, step))
            return null;
        try
        {
            return _scorer.Describe(step, input, score, threshold);
        }
        catch (Exception ex)
        {
            Fail(step, ex, faults);
            return string.Create(CultureInfo.InvariantCulture, $"score {score:G4} (threshold {threshold:G4}); the rule failed to describe it");
        }
#pragma warning restore CA1031
    }

    /// <summary>The track's state; the scorer's numbers are <c>null</c> when it is faulted or cannot save them.</summary>
    public TrackState Save(List<RuleFault> faults, long step)
    {
        double[]? numbers = null;
        if (!Faulted)
        {
#pragma warning disable CA1031 // see Observe
            try
            {
                numbers = _scorer is null ? [] : [.. _scorer.SaveState()];
            }
            catch (Exception ex)
            {
                Fail(step, ex, faults);
            }
#pragma warning restore CA1031
        }

        return new TrackState { Reason = rule.Reason, Episode = Episode.Save(), Scorer = numbers };
    }

    /// <summary>Restores a saved state; returns why it could not, or <c>null</c> when it did.</summary>
    public string? Load(TrackState state)
    {
        if (state.Scorer is null)
            return "its state was not saved";
#pragma warning disable CA1031 // see Observe
        try
        {
            // An empty state is a scorer that had nothing to save (or was never used): it starts as a fresh one.
            var scorer = create();
            if (state.Scorer.Length > 0)
                scorer.LoadState(state.Scorer);
            _scorer = scorer;
        }
        catch (Exception ex)
        {
            _scorer = null;
            return $"its scorer cannot restore the saved state ({ex.Message})";
        }
#pragma warning restore CA1031

        Episode.Load(state.Episode);
        return null;
    }

    private void Fail(long step, Exception ex, List<RuleFault> faults)
    {
        Faulted = true;
        _scorer = null;
        faults.Add(new RuleFault(rule.Reason, subject, step, ex));
    }
}
