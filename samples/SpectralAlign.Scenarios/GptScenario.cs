using SpectralAlign.Scenarios.Data;
using SpectralAlign.Scenarios.Models;
using SpectralAlign.Scenarios.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace SpectralAlign.Scenarios;

/// <summary>
/// Shared construction of the character-level GPT scenarios on the shipped State-of-the-Union corpus.
/// Settings: <c>context</c>, <c>dim</c>, <c>layers</c>, <c>heads</c>, <c>ffn</c>, <c>norm</c>, <c>qk_norm</c>
/// (<c>true</c>: qk-layernorm), <c>init_std</c>, <c>batch</c>, <c>dtype</c> (<c>float32</c> or <c>bfloat16</c>:
/// parameters, activations and optimizer state in that type; the loss is always computed in float32), <c>z_loss</c>
/// (coefficient of the auxiliary z-loss, 0 for none), <c>data</c> (<c>stream</c>: windows drawn from one seeded
/// <see cref="Random"/> in step order; <c>indexed</c>: the batch of step t drawn from (seed, t) by
/// <see cref="StepSeeds"/>, so a restored run replays its batches), plus the optimizer and schedule settings of
/// <see cref="Scenario"/>.
/// </summary>
public abstract class GptScenarioBase : Scenario
{
    /// <summary>The model and data settings of the GPT scenarios.</summary>
    /// <returns>Common optimizer defaults plus the GPT's.</returns>
    protected static Dictionary<string, string> GptDefaults()
    {
        var d = CommonDefaults();
        d["context"] = "64";
        d["dim"] = "64";
        d["layers"] = "2";
        d["heads"] = "4";
        d["ffn"] = "176";
        d["norm"] = "none";
        d["qk_norm"] = "false";
        d["init_std"] = "0.02";
        d["batch"] = "16";
        d["dtype"] = "float32";
        d["z_loss"] = "0";
        d["data"] = "stream";
        return d;
    }

    /// <inheritdoc />
    public override TrainingSetup Create(HyperParameters settings, int seed)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var corpus = new CharCorpus(CharCorpus.DefaultPath());
        var model = CreateModel(settings, corpus);
        int batch = settings.GetInt("batch"), context = model.Options.Context;
        bool indexed = IndexedData(settings);
        var random = new Random(seed);
        var setup = new TrainingSetup
        {
            Model = model,
            Optimizer = AdamW(model, settings),
            NextBatch = indexed
                ? step => corpus.Batch(new Random(StepSeeds.For(seed, step)), batch, context)
                : _ => corpus.Batch(random, batch, context),
            Loss = GptLoss(settings),
            Steps = settings.GetInt("steps"),
            LearningRate = Schedule(settings),
            ClipNorm = settings.GetDouble("clip"),
            StepIndexedData = indexed,
            MaxAttentionLogit = model.MaxAttentionLogit,
        };
        setup.Own(corpus);
        return setup;
    }

    /// <summary>The GPT of the settings, initialised from torch's global generator (in its dtype).</summary>
    /// <param name="settings">The settings.</param>
    /// <param name="corpus">The corpus (for the vocabulary size).</param>
    /// <returns>The model.</returns>
    protected static GptLanguageModel CreateModel(HyperParameters settings, CharCorpus corpus)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(corpus);
        var options = new GptOptions
        {
            Vocab = corpus.Vocabulary.Count,
            Context = settings.GetInt("context"),
            Dim = settings.GetInt("dim"),
            Layers = settings.GetInt("layers"),
            Heads = settings.GetInt("heads"),
            FfnHidden = settings.GetInt("ffn"),
            Norm = settings.GetString("norm"),
            QkNorm = settings.GetBool("qk_norm"),
            InitStd = settings.GetDouble("init_std"),
        };
        var model = new GptLanguageModel(options);
        var dtype = ParseDtype(settings.GetString("dtype"));
        if (dtype != ScalarType.Float32)
            model.to(dtype);
        return model;
    }

    /// <summary>Whether the settings ask for step-indexed data (<c>data</c> = <c>indexed</c>) or a stream.</summary>
    /// <param name="settings">The settings.</param>
    /// <returns>True for indexed.</returns>
    /// <exception cref="ArgumentException">Another value.</exception>
    protected static bool IndexedData(HyperParameters settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        return settings.GetString("data") switch
        {
            "indexed" => true,
            "stream" => false,
            var other => throw new ArgumentException($"Unknown data order '{other}' (stream, indexed).", nameof(settings)),
        };
    }

    /// <summary>
    /// The training loss: float32 cross-entropy, plus <c>z_loss</c> · mean(log Z²) when that coefficient is positive
    /// (log Z = logsumexp of a position's logits; PaLM's auxiliary loss, which Wortsman et al. 2023 use against
    /// output-logit divergence).
    /// </summary>
    /// <param name="settings">The settings.</param>
    /// <returns>The loss function.</returns>
    protected static Func<Tensor, Tensor, Tensor> GptLoss(HyperParameters settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        double z = settings.GetDouble("z_loss");
        if (z < 0)
            throw new ArgumentException($"z_loss must not be negative (got {z}).", nameof(settings));
        if (z == 0)
            return CrossEntropy;
        return (logits, targets) =>
        {
            // CrossEntropy(logits, targets) + z * logZ.square().mean(), with every Scalar kept alive (KeptScalars).
            using var weight = z.ToScalar();
            var logZ = logits.to(ScalarType.Float32).logsumexp(-1);
            var crossEntropy = CrossEntropy(logits, targets);
            return crossEntropy.add(logZ.pow(KeptScalars.IntTwo).mean().mul(weight), KeptScalars.IntOne);
        };
    }

    /// <summary>Parses a dtype setting.</summary>
    /// <param name="name"><c>float32</c> or <c>bfloat16</c>.</param>
    /// <returns>The scalar type.</returns>
    /// <exception cref="ArgumentException">Unknown name.</exception>
    protected static ScalarType ParseDtype(string name) => name switch
    {
        "float32" => ScalarType.Float32,
        "bfloat16" => ScalarType.BFloat16,
        _ => throw new ArgumentException($"Unknown dtype '{name}' (float32, bfloat16).", nameof(name)),
    };
}

/// <summary>
/// Scenario a (learning rate): GPT without normalisation, AdamW (β = 0.9/0.95, weight decay 0.1), linear warm-up over
/// 1000 steps to a peak learning rate that is then held. The two configurations differ only in the peak: 1e-2
/// (stable) and 5e-2 (exploding), the same 5× ratio as the paper's FFN case (1e-3 vs 5e-3). The exploding runs go
/// through the stable run's whole learning-rate range on their way up and blow up once the rising rate crosses the
/// model's stability limit (around 3e-2), hundreds of steps into training.
/// </summary>
public sealed class GptLearningRateScenario : GptScenarioBase
{
    /// <inheritdoc />
    public override string Name => "gpt-lr";

    /// <inheritdoc />
    public override string Description =>
        "Char-level GPT (2 blocks, d=64, q/k/v/o + SwiGLU gate/up/down, no normalisation) on State-of-the-Union text; AdamW, 1000-step linear warm-up to the peak LR; exploding = 5x higher peak LR.";

    /// <inheritdoc />
    public override IReadOnlyDictionary<string, string> Defaults { get; } = GptDefaults().With(("steps", "1500"), ("warmup", "1000"));

    /// <inheritdoc />
    public override IReadOnlyDictionary<string, IReadOnlyDictionary<string, string>> Configs { get; } =
        new Dictionary<string, IReadOnlyDictionary<string, string>>(StringComparer.Ordinal)
        {
            ["stable"] = Layer(("lr", "1e-2")),
            ["exploding"] = Layer(("lr", "5e-2")),
        };

    internal static IReadOnlyDictionary<string, string> Layer(params (string Key, string Value)[] pairs) =>
        pairs.ToDictionary(p => p.Key, p => p.Value, StringComparer.Ordinal);
}

/// <summary>
/// Scenario c (loss of normalisation): a deeper GPT (4 blocks) with the exploding learning-rate schedule of
/// <see cref="GptLearningRateScenario"/> (AdamW, 1000-step linear warm-up to 5e-2, then constant). The two
/// configurations differ only in normalisation: pre-norm RMSNorm in every block and before the LM head (stable) or
/// none (exploding). With normalisation the model trains through the whole ramp; without it, it blows up once the
/// rising learning rate reaches about 1.5–2e-2, a few hundred steps in.
/// </summary>
public sealed class GptNormalisationScenario : GptScenarioBase
{
    /// <inheritdoc />
    public override string Name => "gpt-norm";

    /// <inheritdoc />
    public override string Description =>
        "Char-level GPT with 4 blocks, 1000-step warm-up to a peak LR of 5e-2; stable = pre-norm RMSNorm, exploding = no normalisation.";

    /// <inheritdoc />
    public override IReadOnlyDictionary<string, string> Defaults { get; } =
        GptDefaults().With(("steps", "1500"), ("warmup", "1000"), ("lr", "5e-2"), ("layers", "4"));

    /// <inheritdoc />
    public override IReadOnlyDictionary<string, IReadOnlyDictionary<string, string>> Configs { get; } =
        new Dictionary<string, IReadOnlyDictionary<string, string>>(StringComparer.Ordinal)
        {
            ["stable"] = GptLearningRateScenario.Layer(("norm", "rms")),
            ["exploding"] = GptLearningRateScenario.Layer(("norm", "none")),
        };
}

/// <summary>Small helpers for building settings dictionaries.</summary>
internal static class SettingsExtensions
{
    public static Dictionary<string, string> With(this Dictionary<string, string> d, params (string Key, string Value)[] pairs)
    {
        foreach (var (k, v) in pairs)
            d[k] = v;
        return d;
    }
}
