using System.Globalization;
using SpectralAlign.Scenarios.Data;
using SpectralAlign.Scenarios.Training;
using static TorchSharp.torch;

namespace SpectralAlign.Scenarios;

/// <summary>
/// Fork after a healthy phase: a base run of the 2-block character GPT without normalisation (context 32, AdamW,
/// 100-step warm-up to a constant learning rate of 1.4e-2, below the stability limit) trains <c>fork_step</c> = 800
/// healthy steps; from that step on each branch continues with its own post-fork data and, except the
/// <c>control</c>, one trigger, until step 1,200:
/// <list type="bullet">
/// <item><c>lr</c>: the learning rate ramps linearly to <c>lr_factor</c> = 2 × the base rate over <c>lr_ramp</c> = 200
/// steps (0: a step) and stays there;</item>
/// <item><c>beta2</c>: Adam's β2 becomes <c>fork_beta2</c> (0.95 → 0.999: the second-moment estimate then lags
/// growing gradients). With <c>fork_bias</c> = <c>neutral</c> (the default) Adam's step counters are advanced by
/// <see cref="NeutralStepOffset"/> at the fork, so that the bias corrections 1 − β^t stay at 1: TorchSharp (like
/// PyTorch) computes them from the step counter with the current β, and a plain switch (<c>continue</c>) divides every
/// update by 1/√(1 − 0.999^t) ≈ 1.35 at t = 800, a learning-rate cut that fades over thousands of steps and that, in
/// the pilot, kept almost every branch stable (PILOTS.md).</item>
/// </list>
/// A data shock is available as settings on any configuration (<c>shock_rows</c> &gt; 0: the first rows of every
/// post-fork batch are repeated <c>shock_ngram</c>-character slices, <see cref="CharCorpus.RepeatedNGramBatch"/>; with
/// <c>shock_shared</c> all of them repeat the same slice) but is not one of the suite's triggers: in the pilots it
/// either never exploded or raised the loss level itself so far that single noisy steps crossed the ground truth's
/// factor of 2 without any divergence (PILOTS.md).
/// <para>
/// <b>Seeds.</b> Run seed s ≥ 1 belongs to base seed b = (s − 1) / <c>branches</c> + 1: the initialisation (torch's
/// generator seeded with b) and the pre-fork batches (stream b of <see cref="StepSeeds"/>) are those of the base, so
/// all branches of a base — every configuration, every s — are bit-for-bit the same run before the fork (a
/// deterministic replay of the base; <see cref="RunSnapshot"/> restores the same state). The post-fork batches
/// come from stream −s, shared by the control and the triggers of the same s (paired branches). With
/// <c>branches</c> = 5, seeds 1–10 are 2 bases × 5 post-fork data seeds.
/// </para>
/// </summary>
public sealed class ForkScenario : GptScenarioBase
{
    /// <inheritdoc />
    public override string Name => "gpt-fork";

    /// <inheritdoc />
    public override string Description =>
        "Fork after a healthy phase: char-level GPT (2 blocks, d=64, ctx 32, no normalisation) trains 800 steps at a stable constant LR; then each branch continues as a control or with a trigger (LR ramp to 2x, Adam beta2 0.95 -> 0.999).";

    /// <inheritdoc />
    public override IReadOnlyDictionary<string, string> Defaults { get; } =
        GptDefaults().With(
            ("steps", "1200"), ("warmup", "100"), ("context", "32"), ("data", "indexed"), ("lr", "1.4e-2"),
            ("fork_step", "800"), ("branches", "5"),
            ("lr_factor", "1"), ("lr_ramp", "0"), ("fork_beta2", "0.95"), ("fork_bias", "neutral"), ("shock_rows", "0"), ("shock_ngram", "4"), ("shock_shared", "false"));

    /// <inheritdoc />
    public override IReadOnlyDictionary<string, IReadOnlyDictionary<string, string>> Configs { get; } =
        new Dictionary<string, IReadOnlyDictionary<string, string>>(StringComparer.Ordinal)
        {
            ["control"] = GptLearningRateScenario.Layer(),
            ["lr"] = GptLearningRateScenario.Layer(("lr_factor", "2"), ("lr_ramp", "200")),
            ["beta2"] = GptLearningRateScenario.Layer(("fork_beta2", "0.999")),
        };

    /// <summary>Steps added to Adam's step counters at the fork of a <c>beta2</c> branch with <c>fork_bias</c> =
    /// <c>neutral</c>: 0.999^20000 ≈ 2e-9, so both bias corrections are 1 to float precision.</summary>
    public const long NeutralStepOffset = 20_000;

    /// <summary>The base seed of a run seed.</summary>
    /// <param name="seed">The run's seed (≥ 1).</param>
    /// <param name="branches">Post-fork data seeds per base.</param>
    /// <returns>(seed − 1) / branches + 1.</returns>
    public static int BaseSeed(int seed, int branches) =>
        seed >= 1 && branches >= 1 ? (seed - 1) / branches + 1
        : throw new ArgumentOutOfRangeException(nameof(seed), string.Create(CultureInfo.InvariantCulture, $"Fork seeds start at 1 and branches at 1 (got seed {seed}, branches {branches})."));

    /// <inheritdoc />
    public override TrainingSetup Create(HyperParameters settings, int seed)
    {
        ArgumentNullException.ThrowIfNull(settings);
        int baseSeed = BaseSeed(seed, settings.GetInt("branches"));
        long fork = settings.GetInt("fork_step");
        int steps = settings.GetInt("steps"), batch = settings.GetInt("batch");
        double factor = settings.GetDouble("lr_factor"), beta1 = settings.GetDouble("beta1"), beta2 = settings.GetDouble("beta2"), forkBeta2 = settings.GetDouble("fork_beta2");
        string bias = settings.GetString("fork_bias");
        bool shared = settings.GetBool("shock_shared");
        int ramp = settings.GetInt("lr_ramp"), shockRows = settings.GetInt("shock_rows"), ngram = settings.GetInt("shock_ngram");
        var problems = new List<string>();
        if (fork <= 0 || fork >= steps)
            problems.Add($"fork_step {fork} must lie in (0, steps = {steps})");
        if (!(factor > 0))
            problems.Add($"lr_factor {factor} must be positive");
        if (ramp < 0)
            problems.Add($"lr_ramp {ramp} must not be negative");
        if (!(forkBeta2 >= 0 && forkBeta2 < 1))
            problems.Add($"fork_beta2 {forkBeta2} must lie in [0, 1)");
        if (bias is not ("neutral" or "continue"))
            problems.Add($"fork_bias '{bias}' must be neutral or continue");
        if (shockRows < 0 || shockRows > batch)
            problems.Add($"shock_rows {shockRows} must lie in [0, batch = {batch}]");
        if (!IndexedData(settings))
            problems.Add("a fork needs step-indexed data (data=indexed)");
        if (problems.Count > 0)
            throw new ArgumentException("Invalid fork settings: " + string.Join("; ", problems) + ".", nameof(settings));

        manual_seed(baseSeed); // the base's initialisation, whatever the branch
        var corpus = new CharCorpus(CharCorpus.DefaultPath());
        var model = CreateModel(settings, corpus);
        var optimizer = AdamW(model, settings);
        int context = model.Options.Context;
        var schedule = Schedule(settings);
        var setup = new TrainingSetup
        {
            Model = model,
            Optimizer = optimizer,
            NextBatch = step =>
            {
                if (step < fork)
                    return corpus.Batch(new Random(StepSeeds.For(baseSeed, step)), batch, context);
                var random = new Random(StepSeeds.For(-(long)seed, step));
                return shockRows > 0 ? corpus.RepeatedNGramBatch(random, batch, context, ngram, shockRows, shared) : corpus.Batch(random, batch, context);
            },
            Loss = GptLoss(settings),
            Steps = steps,
            LearningRate = step => step < fork ? schedule(step) : schedule(step) * (1 + (factor - 1) * Math.Min(1.0, (step - fork + 1) / (double)Math.Max(1, ramp))),
            ClipNorm = settings.GetDouble("clip"),
            PrepareStep = forkBeta2 == beta2 ? null : step =>
            {
                SetBetas(optimizer, beta1, step < fork ? beta2 : forkBeta2);
                if (step >= fork && bias == "neutral")
                    NeutraliseBiasCorrection(optimizer);
            },
            ForkStep = fork,
            StepIndexedData = true,
            MaxAttentionLogit = model.MaxAttentionLogit,
        };
        setup.Own(corpus);
        return setup;
    }

    /// <summary>Advances every AdamW step counter below <see cref="NeutralStepOffset"/> by that offset (once: a counter
    /// already past it — this branch after its fork step, or a snapshot taken there — is left alone).</summary>
    private static void NeutraliseBiasCorrection(optim.Optimizer optimizer)
    {
        if (optimizer is not TorchSharp.Modules.AdamW adam)
            throw new NotSupportedException($"fork_bias=neutral needs AdamW, not {optimizer.GetType().Name}.");
        foreach (var state in adam.state_dict().State.Cast<TorchSharp.Modules.AdamW.State>())
        {
            if (state.step < NeutralStepOffset)
                state.step += NeutralStepOffset;
        }
    }

    /// <summary>Sets Adam's betas in every parameter group (TorchSharp's optimizer-level <c>Betas</c> changes only
    /// the defaults of groups added later).</summary>
    private static void SetBetas(optim.Optimizer optimizer, double beta1, double beta2)
    {
        foreach (var group in optimizer.ParamGroups)
        {
            if (group is not optim.IBetas betas)
                throw new NotSupportedException($"The optimizer's parameter groups ({group.GetType().Name}) have no betas.");
            betas.Betas = (beta1, beta2);
        }
    }
}
