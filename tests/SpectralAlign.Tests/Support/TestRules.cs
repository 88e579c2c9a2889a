using SpectralAlign.Detection;

namespace SpectralAlign.Tests.Support;

/// <summary>Rules written as a user would write them, for the detector tests.</summary>
internal static class TestRules
{
    /// <summary>Scores |mean SA| as it is; throws on the layer named <see cref="Thrower.FailingLayer"/> from
    /// <see cref="Thrower.FailFrom"/> on.</summary>
    public sealed class Thrower() : LayerRule("Thrower", 0.5)
    {
        public string FailingLayer { get; init; } = "bad";

        public long FailFrom { get; init; }

        protected internal override RuleScorer<LayerMeasurement> CreateScorer(string layer) => new Scorer(this, layer);

        private sealed class Scorer(Thrower rule, string layer) : RuleScorer<LayerMeasurement>
        {
            public override double? Score(long step, LayerMeasurement input) =>
                layer == rule.FailingLayer && step >= rule.FailFrom ? throw new InvalidOperationException("rule bug") : input.Stats.AbsMean;
        }
    }

    /// <summary>Scores every judged measurement 1 against a threshold of 0.5, alerting at once (persistence 1): an
    /// alert on every layer's first judged step.</summary>
    public sealed class AlwaysFires : LayerRule
    {
        public AlwaysFires()
            : base("Always", 0.5) => Persistence = 1;

        protected internal override RuleScorer<LayerMeasurement> CreateScorer(string layer) => new Scorer();

        private sealed class Scorer : RuleScorer<LayerMeasurement>
        {
            public override double? Score(long step, LayerMeasurement input) => 1;
        }
    }

    /// <summary>A run rule that throws on every step.</summary>
    public sealed class ThrowingRunRule() : RunRule("ThrowingRun", 1)
    {
        protected internal override RuleScorer<TrainingSignals> CreateScorer() => new Scorer();

        private sealed class Scorer : RuleScorer<TrainingSignals>
        {
            public override double? Score(long step, TrainingSignals input) => throw new InvalidOperationException("run rule bug");
        }
    }

    /// <summary>Pairs layers "X.a" and "X.b" into group "X" and scores σ1(a)·σ1(b); keeps a running count as state.</summary>
    public sealed class ProductRule() : CrossLayerRule("Product", 10)
    {
        protected internal override IEnumerable<(string Group, IReadOnlyList<LayerMeasurement> Members)> Group(IReadOnlyList<LayerMeasurement> measurements)
        {
            foreach (var a in measurements.Where(m => m.Layer.EndsWith(".a", StringComparison.Ordinal)))
            {
                string group = a.Layer[..^2];
                if (measurements.FirstOrDefault(m => m.Layer == group + ".b") is { } b)
                    yield return (group, [a, b]);
            }
        }

        protected internal override RuleScorer<IReadOnlyList<LayerMeasurement>> CreateScorer(string group) => new Scorer();

        private sealed class Scorer : RuleScorer<IReadOnlyList<LayerMeasurement>>
        {
            private double _seen;

            public override double? Score(long step, IReadOnlyList<LayerMeasurement> input) => ++_seen <= 1 ? null : input[0].SpectralNorm * input[1].SpectralNorm;

            public override IReadOnlyList<double> SaveState() => [_seen];

            public override void LoadState(IReadOnlyList<double> state) => _seen = state[0];
        }
    }

    /// <summary>Forms one group, "g", whose members are every measurement and a <c>null</c>: a bug in the rule's
    /// grouping, not in its scorer (which would score any group as 0).</summary>
    public sealed class NullMemberRule() : CrossLayerRule("NullMember", 1)
    {
        protected internal override IEnumerable<(string Group, IReadOnlyList<LayerMeasurement> Members)> Group(IReadOnlyList<LayerMeasurement> measurements) =>
            [("g", [.. measurements, null!])];

        protected internal override RuleScorer<IReadOnlyList<LayerMeasurement>> CreateScorer(string group) => new Scorer();

        private sealed class Scorer : RuleScorer<IReadOnlyList<LayerMeasurement>>
        {
            public override double? Score(long step, IReadOnlyList<LayerMeasurement> input) => 0;
        }
    }
}
