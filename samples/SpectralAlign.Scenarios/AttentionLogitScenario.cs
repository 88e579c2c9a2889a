namespace SpectralAlign.Scenarios;

/// <summary>
/// Attention-logit growth (Wortsman et al. 2023, "Small-scale proxies for large-scale Transformer training
/// instabilities"): a pre-norm (LayerNorm) character GPT trained with AdamW at a high constant learning rate after a
/// short warm-up. Without qk-layernorm the attention logits q·k/√d_head grow until attention collapses onto single
/// positions and the loss diverges; the <c>qk-norm</c> twin normalises queries and keys and is the control; the
/// <c>z-loss</c> twin adds PaLM's auxiliary z-loss (which targets the other small-scale instability, output-logit
/// divergence) without qk-norm. The records carry the largest attention logit of every step
/// (<c>maxAttentionLogit</c>) so that the mechanism can be checked.
/// </summary>
public sealed class AttentionLogitScenario : GptScenarioBase
{
    /// <inheritdoc />
    public override string Name => "gpt-attn";

    /// <inheritdoc />
    public override string Description =>
        "Attention-logit growth: pre-norm (LayerNorm) char-level GPT, AdamW at a high constant LR after a short warm-up; exploding = no qk-norm, controls = qk-layernorm twin and z-loss twin.";

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
