using System.Runtime.CompilerServices;
using SpectralAlign.Detection;
using SpectralAlign.Scenarios.Analysis;

namespace SpectralAlign.Scenarios.Evaluation;

/// <summary>
/// The adapter between the library's rules and the evaluation by horizon: replays a recorded run through a
/// <see cref="CollapseDetector"/> — each recorded step's measurements (those at multiples of the replay interval)
/// and its training signals in one <see cref="CollapseDetector.ObserveStep"/>, as the monitor would have fed them —
/// and turns <see cref="CollapseDetector.LastScores"/> and the detector's episodes into one
/// <see cref="ScoreSeries"/> per rule.
/// </summary>
/// <remarks>
/// <para><b>Score of a rule at recorded step i</b>: the largest score the rule currently holds over its subjects
/// (layers, cross-layer groups, or the run). A layer's or group's score is the one of its latest measured step: a
/// measured step replaces all of them (a subject the rule did not score there — warm-up, an unusable measurement —
/// has no score until it is scored again), so a score is held only across the unmeasured steps in between. A run
/// rule's score lives for its own step only. NaN when no subject holds a score.</para>
/// <para><b>Alarm of a rule at step i</b>: an episode of that rule is active (raised and not recovered,
/// <see cref="CollapseDetector.IsAlerted"/>) for any of its subjects after step i — the rule judged by its own
/// threshold, persistence and recovery. <see cref="RuleReplayResult.AnyAlarm"/> is the same over every rule and the
/// non-finite check: what a user of these options would see.</para>
/// <para>Every rule of one options object sees the same input and keeps its own state, so one replay with many rules
/// gives each rule the series it would get alone.</para>
/// </remarks>
public static class RuleReplay
{
    private static readonly ConditionalWeakTable<RunData, Dictionary<string, RuleReplayResult>> Cache = new();

    /// <summary>Replays one run.</summary>
    /// <param name="run">The recorded run.</param>
    /// <param name="options">The detection options (rules, warm-up, persistence, recovery).</param>
    /// <param name="interval">Replay interval: only measurements at steps that are multiples of it are fed (a multiple
    /// of the recorded interval; the library's default interval is 10).</param>
    /// <returns>One series per rule reason (and the non-finite check), each with one value per recorded step.</returns>
    /// <exception cref="ArgumentException">Invalid options (the message lists the problems).</exception>
    public static RuleReplayResult Replay(RunData run, DetectionOptions options, int interval)
    {
        ArgumentNullException.ThrowIfNull(run);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentOutOfRangeException.ThrowIfLessThan(interval, 1);
        var detector = new CollapseDetector(options);
        var order = run.Layers.Select((name, i) => (name, i)).ToDictionary(x => x.name, x => x.i, StringComparer.Ordinal);
        var byStep = run.MeasurementsByStep(interval);
        string[] reasons = [.. options.Rules.Select(r => r.Reason).Append(AlertReasons.NonFinite)];
        int n = run.Steps.Count;
        var scores = reasons.ToDictionary(r => r, _ => new double[n], StringComparer.Ordinal);
        var alarms = reasons.ToDictionary(r => r, _ => new bool[n], StringComparer.Ordinal);
        var any = new bool[n];
        var held = new Dictionary<(string Reason, string Subject), double>();
        var subjects = reasons.ToDictionary(r => r, _ => new HashSet<string>(StringComparer.Ordinal), StringComparer.Ordinal);
        subjects[AlertReasons.NonFinite].UnionWith(run.Layers);
        for (int i = 0; i < n; i++)
        {
            var step = run.Steps[i];
            var measured = byStep[step.Step].OrderBy(m => order.GetValueOrDefault(m.Layer, int.MaxValue)).ToList();
            detector.ObserveStep(step.Step, measured, new TrainingSignals(step.Loss, step.GradNorm));
            foreach (var key in held.Keys.Where(k => measured.Count > 0 || k.Subject == CollapseAlert.RunLayer).ToList())
                held.Remove(key);
            foreach (var s in detector.LastScores)
            {
                held[(s.Reason, s.Subject)] = s.Score;
                if (subjects.TryGetValue(s.Reason, out var set))
                    set.Add(s.Subject);
            }

            foreach (string reason in reasons)
            {
                scores[reason][i] = double.NaN;
                bool alerted = subjects[reason].Any(subject => detector.IsAlerted(subject, reason));
                alarms[reason][i] = alerted;
                any[i] |= alerted;
            }

            foreach (var ((reason, _), score) in held)
            {
                if (scores.TryGetValue(reason, out var series) && !double.IsNaN(score) && !(score <= series[i]))
                    series[i] = score;
            }
        }

        return new RuleReplayResult(
            reasons.ToDictionary(r => r, r => new ScoreSeries(scores[r], alarms[r]), StringComparer.Ordinal),
            any);
    }

    /// <summary>As <see cref="Replay"/>, but each (run, key) is replayed once per process: the catalog's settings share
    /// one replay of all rules instead of replaying the run once per rule.</summary>
    /// <param name="run">The recorded run.</param>
    /// <param name="key">Identifies the options and interval (same key, same replay).</param>
    /// <param name="options">Creates the options (called only when the replay is not cached).</param>
    /// <param name="interval">Replay interval.</param>
    /// <returns>The replay.</returns>
    public static RuleReplayResult Cached(RunData run, string key, Func<DetectionOptions> options, int interval)
    {
        ArgumentNullException.ThrowIfNull(run);
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(options);
        var replays = Cache.GetOrCreateValue(run);
        lock (replays)
        {
            if (!replays.TryGetValue(key, out var result))
                replays[key] = result = Replay(run, options(), interval);
            return result;
        }
    }
}

/// <summary>What a replay of one run produced (see <see cref="RuleReplay"/>).</summary>
/// <param name="Rules">Per rule reason (and <see cref="AlertReasons.NonFinite"/>): its score per recorded step and
/// whether one of its episodes is active.</param>
/// <param name="AnyAlarm">Per recorded step: whether any episode of any rule (or the non-finite check) is active.</param>
public sealed record RuleReplayResult(IReadOnlyDictionary<string, ScoreSeries> Rules, bool[] AnyAlarm);
