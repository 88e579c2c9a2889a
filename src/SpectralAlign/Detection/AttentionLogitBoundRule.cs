using System.Globalization;

namespace SpectralAlign.Detection;

/// <summary>
/// The attention-logit bound of each attention block,
/// B = σ1(W_q) · σ1(W_k) · max‖x_q‖ · max‖x_k‖ / √d_head (see <see cref="AttentionLogitRule"/>), as the score:
/// anomalous when B ≥ the threshold, default <c>100</c> — logits that large make a softmax over a few hundred
/// positions one-hot. B bounds the logits from above and is usually well above them, so calibrate the threshold on
/// healthy runs of your model (<see cref="DetectionCalibrator"/>) and set <see cref="AttentionLogitRule.HeadDimension"/>.
/// </summary>
public sealed class AttentionLogitBoundRule : AttentionLogitRule
{
    /// <summary>Creates the rule with reason <see cref="AlertReasons.AttentionLogitBound"/> and threshold
    /// <c>100</c>.</summary>
    public AttentionLogitBoundRule()
        : base(AlertReasons.AttentionLogitBound, 100)
    {
    }

    /// <inheritdoc />
    protected internal override RuleScorer<IReadOnlyList<LayerMeasurement>> CreateScorer(string group) => new Scorer(this);

    private sealed class Scorer(AttentionLogitBoundRule rule) : RuleScorer<IReadOnlyList<LayerMeasurement>>
    {
        public override double? Score(long step, IReadOnlyList<LayerMeasurement> input) => rule.Bound(input);

        public override string Describe(long step, IReadOnlyList<LayerMeasurement> input, double score, double threshold) => string.Create(
            CultureInfo.InvariantCulture,
            $"attention logits bounded by {score:G4} (threshold {threshold:G4}): σ1(W_q) {input[0].SpectralNorm:G4} · σ1(W_k) {input[1].SpectralNorm:G4} · max‖x_q‖ {input[0].MaxInputRowNorm:G4} · max‖x_k‖ {input[1].MaxInputRowNorm:G4} / √{rule.HeadDimension}");
    }
}
