namespace SpectralAlign.Scenarios;

/// <summary>
/// Attention-logit growth (Wortsman et al. 2023, "Small-scale proxies for large-scale Transformer training
/// instabilities"): a pre-norm (LayerNorm) character GPT trained with AdamW at a high constant learning rate after a
/// short warm-up. Without qk-layernorm the attention logits q·k/√d_head grow until attention collapses onto single
/// positions and the loss diverges; the <c>qk-norm</c> twin normalises queries and keys and is the control; the
/// <c>z-loss</c> twin adds PaLM's auxiliary z-loss (which targets the other small-scale instability, output-logit
/// divergence) without qk-norm. The records carry the largest attention logit of every step
/// (<c>maxAttentionLogit</c>) so that the mechanism can be checked.
/// <para>
/// <b>It does not explode at this scale</b> (PILOTS.md §3): at the shipped learning rate of 0.1 the attention logits
/// grow to 10³–10⁴ without qk-norm (12–17 with it) and the loss is worse, but no twin diverges; from 0.4 on both twins
/// diverge, the qk-norm twin as often and earlier. The family is recorded as a negative one: genuine logit growth on
/// runs that finish their budget. The configuration keeps the name <c>exploding</c> for the twin that the paper
/// predicts to fail.
/// </para>
/// </summary>
public sealed class AttentionLogitScenario : GptScenarioBase
{
    /// <inheritdoc />
    public override string Name => "gpt-attn";

    /// <inheritdoc />
    public override string Description =>
        "Attention-logit growth: pre-norm (LayerNorm) char-level GPT, AdamW at a constant LR of 0.1 after a short warm-up; exploding = no qk-norm (logits grow 1000x, but it did not diverge in the pilots), controls = qk-layernorm twin and z-loss twin.";

    /// <inheritdoc />
    public override IReadOnlyDictionary<string, string> Defaults { get; } =
        GptDefaults().With(
            ("steps", "1000"), ("warmup", "100"), ("context", "32"), ("data", "indexed"), ("norm", "layer"),
            ("heads", "2"), ("lr", "1e-1"));

    /// <inheritdoc />
    public override IReadOnlyDictionary<string, IReadOnlyDictionary<string, string>> Configs { get; } =
        new Dictionary<string, IReadOnlyDictionary<string, string>>(StringComparer.Ordinal)
        {
            ["exploding"] = GptLearningRateScenario.Layer(),
            ["qk-norm"] = GptLearningRateScenario.Layer(("qk_norm", "true")),
            ["z-loss"] = GptLearningRateScenario.Layer(("z_loss", "1e-4")),
        };
}
