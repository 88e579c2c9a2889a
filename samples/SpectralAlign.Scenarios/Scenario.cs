using System.Globalization;
using SpectralAlign.Scenarios.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace SpectralAlign.Scenarios;

/// <summary>
/// A failure mode with a <c>stable</c> and an <c>exploding</c> configuration. A configuration is a set of settings
/// laid over <see cref="Defaults"/>; the two configurations of a scenario differ in as few settings as possible.
/// </summary>
public abstract class Scenario
{
    /// <summary>Name used on the command line.</summary>
    public abstract string Name { get; }

    /// <summary>One-line description: model, data, and what makes the exploding configuration explode.</summary>
    public abstract string Description { get; }

    /// <summary>Settings shared by all configurations.</summary>
    public abstract IReadOnlyDictionary<string, string> Defaults { get; }

    /// <summary>The named configurations (at least <c>stable</c> and <c>exploding</c>): settings laid over
    /// <see cref="Defaults"/>.</summary>
    public abstract IReadOnlyDictionary<string, IReadOnlyDictionary<string, string>> Configs { get; }

    /// <summary>Builds model, optimizer and data of a run. The caller has already seeded torch's global generator
    /// with <paramref name="seed"/>.</summary>
    /// <param name="settings">Defaults + configuration + overrides.</param>
    /// <param name="seed">The run's seed.</param>
    /// <returns>The setup; the caller disposes it.</returns>
    public abstract TrainingSetup Create(HyperParameters settings, int seed);

    /// <summary>The settings of a configuration with overrides applied.</summary>
    /// <param name="config">The configuration name.</param>
    /// <param name="overrides">key=value overrides.</param>
    /// <returns>The settings.</returns>
    /// <exception cref="ArgumentException">Unknown configuration.</exception>
    public HyperParameters Settings(string config, IEnumerable<KeyValuePair<string, string>>? overrides = null)
    {
        if (!Configs.TryGetValue(config, out var layer))
            throw new ArgumentException($"Scenario '{Name}' has no configuration '{config}' (has: {string.Join(", ", Configs.Keys)}).", nameof(config));
        return new HyperParameters(Defaults, layer, overrides ?? []);
    }

    /// <summary>AdamW from the settings <c>lr</c>, <c>beta1</c>, <c>beta2</c>, <c>eps</c>, <c>weight_decay</c>.</summary>
    /// <param name="model">The model.</param>
    /// <param name="s">The settings.</param>
    /// <returns>The optimizer.</returns>
    protected static optim.Optimizer AdamW(nn.Module model, HyperParameters s)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(s);
        return optim.AdamW(model.parameters(), s.GetDouble("lr"), s.GetDouble("beta1"), s.GetDouble("beta2"), s.GetDouble("eps"), s.GetDouble("weight_decay"));
    }

    /// <summary>The learning-rate schedule from the settings <c>lr</c>, <c>warmup</c> (linear warm-up steps, 0 for
    /// none), <c>schedule</c> (<c>constant</c> or <c>cosine</c>), <c>min_lr</c> and <c>steps</c>.</summary>
    /// <param name="s">The settings.</param>
    /// <returns>Learning rate as a function of the step.</returns>
    protected static Func<long, double> Schedule(HyperParameters s)
    {
        ArgumentNullException.ThrowIfNull(s);
        double lr = s.GetDouble("lr"), minLr = s.GetDouble("min_lr");
        int warmup = s.GetInt("warmup"), steps = s.GetInt("steps");
        string kind = s.GetString("schedule");
        if (kind is not ("constant" or "cosine"))
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture, $"Unknown schedule '{kind}' (constant, cosine)."), nameof(s));
        return step =>
        {
            if (step < warmup)
                return lr * (step + 1) / warmup;
            if (kind == "constant")
                return lr;
            double progress = Math.Min(1.0, (double)(step - warmup) / Math.Max(1, steps - warmup));
            return minLr + (lr - minLr) * 0.5 * (1 + Math.Cos(Math.PI * progress));
        };
    }

    /// <summary>The optimizer settings every scenario starts from.</summary>
    protected static Dictionary<string, string> CommonDefaults() => new(StringComparer.Ordinal)
    {
        ["beta1"] = "0.9",
        ["beta2"] = "0.95",
        ["eps"] = "1e-8",
        ["weight_decay"] = "0.1",
        ["warmup"] = "0",
        ["schedule"] = "constant",
        ["min_lr"] = "0",
        ["clip"] = "0",
    };

    /// <summary>Cross-entropy in float32 over the last dimension, whatever the model's dtype.</summary>
    /// <param name="logits">(…, C).</param>
    /// <param name="targets">(…) int64.</param>
    /// <returns>The mean loss.</returns>
    protected static Tensor CrossEntropy(Tensor logits, Tensor targets)
    {
        ArgumentNullException.ThrowIfNull(logits);
        ArgumentNullException.ThrowIfNull(targets);
        long classes = logits.shape[^1];
        return nn.functional.cross_entropy(logits.to(ScalarType.Float32).reshape(-1, classes), targets.reshape(-1));
    }
}
