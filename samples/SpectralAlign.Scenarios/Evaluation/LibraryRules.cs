using System.Globalization;
using SpectralAlign.Detection;
using SpectralAlign.Scenarios.Analysis;

namespace SpectralAlign.Scenarios.Evaluation;

/// <summary>A library rule in the evaluation by horizon.</summary>
/// <param name="Name">Row name in the report.</param>
/// <param name="Kind"><c>SA</c> (spectral alignment), <c>spectral</c> (other weight/activation statistics of the
/// monitor) or <c>baseline</c> (scalar training signals).</param>
/// <param name="Create">Creates the rule with the given threshold.</param>
/// <param name="Shipped">The rule's own default threshold.</param>
public sealed record LibraryRule(string Name, string Kind, Func<double, DetectionRule> Create, double Shipped);

/// <summary>
/// The library's rules as detectors of the evaluation by horizon, through <see cref="RuleReplay"/>: every recorded run
/// is replayed once per threshold factor with all rules at once, at the library's default interval.
/// </summary>
/// <remarks>
/// Each rule is one detector with these candidate settings, chosen leave-one-family-out like every other detector:
/// its score thresholded at a θ tuned on the other families with persistence k = 1 or k = 20 recorded steps (one or
/// two measurements at the default interval), and the rule's own alarms (its episodes, with the library's
/// persistence and recovery) at its shipped threshold × <see cref="Factors"/>. The detector <c>shipped defaults</c>
/// replays <c>new DetectionOptions()</c> as it is (nothing tuned); <c>default rule set</c> chooses, on the other
/// families, which one rule (at which factor) — or none — a default should run.
/// </remarks>
public static class LibraryRules
{
    /// <summary>The replay interval: the library's default <see cref="SpectralMonitorOptions.Interval"/>.</summary>
    public static int Interval { get; } = new SpectralMonitorOptions().Interval;

    /// <summary>Multiples of a rule's shipped threshold tried as its own-alarm settings.</summary>
    public static IReadOnlyList<double> Factors { get; } = [1, 1.5, 2, 3];

    /// <summary>The rules, in report order.</summary>
    public static IReadOnlyList<LibraryRule> Rules { get; } =
    [
        new("SA one-sided, frozen baseline", "SA", t => new BaselineRelativeRule { Threshold = t }, new BaselineRelativeRule().Threshold),
        new("SA one-sided, paper thresholds", "SA", t => new AbsoluteSignCollapseRule { Threshold = t }, new AbsoluteSignCollapseRule().Threshold),
        new("SA one-sided, rolling baseline", "SA", t => new RollingBaselineRule { Threshold = t }, new RollingBaselineRule().Threshold),
        new("SA one-sided + σ1 growth", "SA", t => new AlignedGrowthRule { Threshold = t }, new AlignedGrowthRule().Threshold),
        new("SA one-sided + σ1 acceleration", "SA", t => new AlignedAccelerationRule { Threshold = t }, new AlignedAccelerationRule().Threshold),
        new("|mean SA| trend", "SA", t => new AlignmentTrendRule { Threshold = t }, new AlignmentTrendRule().Threshold),
        new("centred SA one-sided", "SA", t => new CenteredSignCollapseRule { Threshold = t }, new CenteredSignCollapseRule().Threshold),
        new("update/weight ratio jump", "spectral", t => new UpdateRatioRule { Threshold = t }, new UpdateRatioRule().Threshold),
        new("attention-logit bound", "spectral", t => new AttentionLogitBoundRule { Threshold = t }, new AttentionLogitBoundRule().Threshold),
        new("attention-logit bound growth", "spectral", t => new AttentionLogitGrowthRule { Threshold = t }, new AttentionLogitGrowthRule().Threshold),
        new("Jacobian alignment (MSign)", "spectral", t => new JacobianAlignmentRule { Threshold = t }, new JacobianAlignmentRule().Threshold),
        new("σ1 growth", "spectral", t => new SpectralNormGrowthRule { Threshold = t }, new SpectralNormGrowthRule().Threshold),
        new("stable-rank drop", "spectral", t => new StableRankDropRule { Threshold = t }, new StableRankDropRule().Threshold),
        new("max-activation growth", "baseline", t => new MaxActivationGrowthRule { Threshold = t }, new MaxActivationGrowthRule().Threshold),
        new("loss spike 6σ (128 steps)", "baseline", t => new LossSpikeRule { Threshold = t }, new LossSpikeRule().Threshold),
        new("grad-norm spike 6σ (OLMo, 128 steps)", "baseline", t => new GradientNormSpikeRule { Threshold = t }, new GradientNormSpikeRule().Threshold),
        new("grad-norm EMA z (ZClip)", "baseline", t => new GradientNormEmaRule { Threshold = t }, new GradientNormEmaRule().Threshold),
    ];

    /// <summary>One detector per rule, then <c>shipped defaults</c> and <c>default rule set</c>.</summary>
    public static IReadOnlyList<HorizonDetector> Detectors { get; } = [.. Rules.Select(Detector), ShippedDefaults(), DefaultRuleSet()];

    /// <summary>The replay of a run with every rule at its shipped threshold × <paramref name="factor"/> (cached).</summary>
    /// <param name="run">The run.</param>
    /// <param name="factor">The threshold factor.</param>
    /// <returns>The replay.</returns>
    public static RuleReplayResult AllRules(RunData run, double factor) => RuleReplay.Cached(
        run,
        "all×" + factor.ToString("R", CultureInfo.InvariantCulture),
        () => new DetectionOptions { Rules = [.. Rules.Select(r => r.Create(r.Shipped * factor))] },
        Interval);

    private static HorizonDetector Detector(LibraryRule rule)
    {
        string reason = rule.Create(rule.Shipped).Reason;
        ScoreSeries Score(RunData run) => new(AllRules(run, 1).Rules[reason].Scores);
        var settings = new List<DetectorSetting>
        {
            new("θ tuned, k = 1", Score, 1),
            new("θ tuned, k = 20", Score, 20),
        };
        settings.AddRange(Factors.Select(f => new DetectorSetting(
            Inv($"own alarms, θ = {rule.Shipped * f:G3}"),
            run => AllRules(run, f).Rules[reason])));
        return new HorizonDetector(rule.Name, rule.Kind, settings);
    }

    private static HorizonDetector ShippedDefaults() => new(
        "shipped defaults",
        "SA",
        [new("new DetectionOptions()", run =>
        {
            var replay = RuleReplay.Cached(run, "defaults", () => new DetectionOptions(), Interval);
            return new ScoreSeries(AnyScore(replay), replay.AnyAlarm);
        })]);

    private static HorizonDetector DefaultRuleSet()
    {
        var settings = new List<DetectorSetting>();
        foreach (var rule in Rules)
        {
            string reason = rule.Create(rule.Shipped).Reason;
            foreach (double f in Factors)
            {
                settings.Add(new(Inv($"{rule.Name}, θ = {rule.Shipped * f:G3}"), run =>
                {
                    var replay = AllRules(run, f);
                    var own = replay.Rules[reason];
                    var nonFinite = replay.Rules[AlertReasons.NonFinite].Alarms!;
                    return new ScoreSeries(own.Scores, [.. own.Alarms!.Select((a, i) => a || nonFinite[i])]);
                }));
            }
        }

        settings.Add(new("no rule (non-finite check only)", run =>
        {
            var nonFinite = AllRules(run, 1).Rules[AlertReasons.NonFinite];
            return new ScoreSeries(new double[run.Steps.Count], nonFinite.Alarms);
        }));
        return new HorizonDetector("default rule set", "SA", settings);
    }

    /// <summary>The largest score of any rule of a replay at each step (NaN where none has one); a rank score only,
    /// for a replay whose rules share a scale.</summary>
    private static double[] AnyScore(RuleReplayResult replay)
    {
        var first = replay.Rules.Values.First().Scores;
        var scores = new double[first.Length];
        for (int i = 0; i < scores.Length; i++)
        {
            scores[i] = double.NaN;
            foreach (var series in replay.Rules.Values)
            {
                if (!double.IsNaN(series.Scores[i]) && !(series.Scores[i] <= scores[i]))
                    scores[i] = series.Scores[i];
            }
        }

        return scores;
    }

    private static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
