namespace SpectralAlign.Scenarios;

/// <summary>
/// Edge-of-stability lottery: one configuration, whose seeds (initialisation and data order) decide whether it lives
/// or dies. The 2-block character GPT without normalisation (context 32), AdamW (β = 0.9/0.95, weight decay 0.1), a
/// 300-step linear warm-up and then a constant learning rate of 1.8e-2, piloted to sit at the model's stability limit
/// (PILOTS.md: with a 100-step warm-up, 2 of 20 seeds explode within the 1,000-step budget at 1.6e-2, 8 of 20 at 1.8e-2
/// but half of them by step 300, and 17 of 20 at 2e-2; the longer warm-up moves the explosions later: 8 of 20, at
/// steps 283–912, all but one after step 560). Exploding and
/// surviving runs share every hyperparameter: a detector cannot tell them apart by their configuration, only by what
/// happens during training. Data are step-indexed (batch t from (seed, t)), so a restored run replays its batches.
/// </summary>
public sealed class LotteryScenario : GptScenarioBase
{
    /// <inheritdoc />
    public override string Name => "gpt-lottery";

    /// <inheritdoc />
    public override string Description =>
        "Edge-of-stability lottery: char-level GPT (2 blocks, d=64, ctx 32, no normalisation), AdamW, 300-step warm-up to a constant LR of 1.8e-2 at the stability limit; the seed decides whether it explodes.";

    /// <inheritdoc />
    public override IReadOnlyDictionary<string, string> Defaults { get; } =
        GptDefaults().With(("steps", "1000"), ("warmup", "300"), ("context", "32"), ("data", "indexed"), ("lr", "1.8e-2"));

    /// <inheritdoc />
    public override IReadOnlyDictionary<string, IReadOnlyDictionary<string, string>> Configs { get; } =
        new Dictionary<string, IReadOnlyDictionary<string, string>>(StringComparer.Ordinal)
        {
            ["edge"] = GptLearningRateScenario.Layer(),
        };
}
