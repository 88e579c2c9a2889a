using System.Reflection;
using SpectralAlign.Detection;
using static SpectralAlign.Tests.Support.Measurements;

namespace SpectralAlign.Tests.Detection;

/// <summary>Replaying a recorded run through a <see cref="CollapseDetector"/> configured with any rule list gives a
/// score per rule per step in <see cref="CollapseDetector.LastScores"/>, for every built-in rule, whatever its
/// threshold and persistence (the evaluation by horizon reads them so).</summary>
public sealed class ReplayScoresTests
{
    /// <summary>Every concrete rule of the library, with its default settings.</summary>
    public static IReadOnlyList<DetectionRule> BuiltInRules() =>
    [
        .. typeof(DetectionRule).Assembly.GetTypes()
            .Where(t => t.IsSubclassOf(typeof(DetectionRule)) && !t.IsAbstract && t.GetConstructor(Type.EmptyTypes) is not null)
            .OrderBy(t => t.Name, StringComparer.Ordinal)
            .Select(t => (DetectionRule)Activator.CreateInstance(t)!),
    ];

    /// <summary>A recorded run of 600 steps: an attention block's q/k/v and an FFN layer measured every 5 steps (noisy
    /// statistics, σ1 accelerating, SA drifting one-sided and the upstream alignment rising after step 350), loss and gradient
    /// norm at every step.</summary>
    private static List<(long Step, List<LayerMeasurement> Measurements, TrainingSignals Signals)> Recorded()
    {
        var random = new Random(17);
        double Noise(double scale) => scale * (random.NextDouble() - 0.5);
        var run = new List<(long, List<LayerMeasurement>, TrainingSignals)>();
        for (long step = 0; step < 600; step++)
        {
            var measured = new List<LayerMeasurement>();
            if (step % 5 == 0)
            {
                double drift = Math.Max(0, step - 350) / 250.0;
                foreach (string layer in new[] { "blk.attn.q", "blk.attn.k", "blk.attn.v", "blk.ffn.up" })
                {
                    measured.Add(M(
                        step,
                        mean: 0.05 + 0.7 * drift + Noise(0.02),
                        diversity: 0.9 - 0.8 * drift + Noise(0.02),
                        sigma: Math.Exp(2 * drift * drift) * (1 + Noise(0.01)),
                        maxAbs: 1 + drift + Noise(0.05),
                        layer: layer,
                        centered: Distribution(0.02 + 0.3 * drift + Noise(0.02), 0.95 - 0.5 * drift + Noise(0.02)),
                        maxRowNorm: 3 + Noise(0.1),
                        updateRatio: step == 0 ? double.NaN : 1e-3 * (1 + 3 * drift + Noise(0.1)),
                        upstream: 0.1 + 0.6 * drift + Noise(0.04)));
                }
            }

            var signals = new TrainingSignals(Loss: 3 - step / 600.0 + Noise(0.05), GradientNorm: 1 + Noise(0.2) + (step == 500 ? 20 : 0));
            run.Add((step, measured, signals));
        }

        return run;
    }

    private static List<List<RuleScore>> Replay(IEnumerable<DetectionRule> rules)
    {
        var detector = new CollapseDetector(new DetectionOptions { Rules = [.. rules] });
        return [.. Recorded().Select(s =>
        {
            detector.ObserveStep(s.Step, s.Measurements, s.Signals);
            return detector.LastScores.ToList();
        })];
    }

    [Fact]
    public void ObserveStep_EveryBuiltInRule_ScoresEverySubjectOfTheReplay()
    {
        var rules = BuiltInRules();
        Assert.Contains(rules, r => r is AttentionLogitGrowthRule);
        Assert.Contains(rules, r => r is GradientNormSpikeRule);
        Assert.Contains(rules, r => r is JacobianAlignmentRule);
        var scores = Replay(rules).SelectMany(s => s).ToList();
        foreach (var rule in rules)
        {
            var subjects = scores.Where(s => s.Reason == rule.Reason).Select(s => s.Subject).Distinct().Order(StringComparer.Ordinal).ToList();
            string[] expected = rule switch
            {
                RunRule => [CollapseAlert.RunLayer],
                CrossLayerRule => ["blk.attn"],
                _ => ["blk.attn.k", "blk.attn.q", "blk.attn.v", "blk.ffn.up"],
            };
            Assert.True(expected.SequenceEqual(subjects), $"{rule.Reason}: scored {string.Join(", ", subjects)}");
        }

        // Scores come in step order, one per rule and subject per step at most.
        Assert.All(scores.GroupBy(s => (s.Reason, s.Subject)), g => Assert.Equal(g.Select(s => s.Step).Order(), g.Select(s => s.Step)));
        Assert.All(scores.GroupBy(s => (s.Reason, s.Subject, s.Step)), g => Assert.Single(g));
    }

    [Fact]
    public void ObserveStep_ScoresDoNotDependOnPersistence_NorOnThresholdExceptWhereTheRuleUsesIt()
    {
        // The spike checks keep values at or above their threshold out of their window, and ZClip's EMA clips them:
        // their state, hence their later scores, depend on the threshold. No other rule's score does.
        static bool UsesThreshold(DetectionRule r) => r is SpikeRule or GradientNormEmaRule;
        static IEnumerable<(string, string, long, double)> Of(List<RuleScore> step) => step.Select(x => (x.Reason, x.Subject, x.Step, x.Score));
        var plain = Replay(BuiltInRules());
        var persistent = Replay(BuiltInRules().Select(r => WithGating(r, r.Threshold, 1000)));
        Assert.Equal(plain.Select(Of), persistent.Select(Of));

        var silent = Replay(BuiltInRules().Where(r => !UsesThreshold(r)).Select(r => WithGating(r, double.PositiveInfinity, 1)));
        var reasons = BuiltInRules().Where(r => !UsesThreshold(r)).Select(r => r.Reason).ToHashSet();
        Assert.Equal(plain.Select(s => Of([.. s.Where(x => reasons.Contains(x.Reason))])), silent.Select(Of));
        Assert.All(silent.SelectMany(s => s), s => Assert.Equal(double.PositiveInfinity, s.Threshold));
    }

    /// <summary>A copy of a rule with another threshold and persistence (settings are init-only).</summary>
    private static DetectionRule WithGating(DetectionRule rule, double threshold, int persistence)
    {
        var copy = (DetectionRule)Activator.CreateInstance(rule.GetType())!;
        typeof(DetectionRule).GetProperty(nameof(DetectionRule.Threshold))!.SetValue(copy, threshold);
        typeof(DetectionRule).GetProperty(nameof(DetectionRule.Persistence))!.SetValue(copy, persistence);
        return copy;
    }
}
