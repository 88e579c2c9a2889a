using SpectralAlign.Scenarios.Data;
using SpectralAlign.Scenarios.Models;
using SpectralAlign.Scenarios.Training;

namespace SpectralAlign.Scenarios;

/// <summary>
/// Shared construction of the residual-MLP scenarios on the synthetic <see cref="TeacherTask"/>. Settings:
/// <c>input</c>, <c>width</c>, <c>hidden</c>, <c>blocks</c>, <c>classes</c>, <c>norm</c>, <c>init_scale</c>,
/// <c>activation</c>, <c>label_noise</c>, <c>batch</c>, plus the optimizer and schedule settings of
/// <see cref="Scenario"/>. The teacher (the task) is the same for every seed; the seed changes the initialisation
/// and the sample stream.
/// </summary>
public abstract class MlpScenarioBase : Scenario
{
    /// <summary>Seed of the teacher network, fixed so that all runs learn the same task.</summary>
    public const int TeacherSeed = 1234;

    /// <summary>The model and data settings of the MLP scenarios.</summary>
    /// <returns>Common optimizer defaults plus the MLP's.</returns>
    protected static Dictionary<string, string> MlpDefaults()
    {
        var d = CommonDefaults();
        d["input"] = "32";
        d["width"] = "128";
        d["hidden"] = "256";
        d["blocks"] = "6";
        d["classes"] = "10";
        d["norm"] = "none";
        d["init_scale"] = "1";
        d["activation"] = "gelu";
        d["label_noise"] = "0.1";
        d["batch"] = "512";
        return d;
    }

    /// <inheritdoc />
    public override TrainingSetup Create(HyperParameters settings, int seed)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var options = new ResidualMlpOptions
        {
            Input = settings.GetInt("input"),
            Width = settings.GetInt("width"),
            Hidden = settings.GetInt("hidden"),
            Blocks = settings.GetInt("blocks"),
            Classes = settings.GetInt("classes"),
            Norm = settings.GetString("norm"),
            InitScale = settings.GetDouble("init_scale"),
            Activation = settings.GetString("activation"),
        };
        var model = new ResidualMlp(options);
        var task = new TeacherTask(options.Input, options.Classes, settings.GetDouble("label_noise"), TeacherSeed, 1_000_003L * seed + 17);
        int batch = settings.GetInt("batch");
        var setup = new TrainingSetup
        {
            Model = model,
            Optimizer = AdamW(model, settings),
            NextBatch = _ => task.Batch(batch),
            Loss = CrossEntropy,
            Steps = settings.GetInt("steps"),
            LearningRate = Schedule(settings),
            ClipNorm = settings.GetDouble("clip"),
        };
        setup.Own(task);
        return setup;
    }
}

/// <summary>
/// Scenario b (learning rate, another architecture): residual MLP without normalisation on the synthetic teacher task,
/// AdamW (β = 0.9/0.95, weight decay 0.1) at a constant learning rate without warm-up. The configurations differ only
/// in the learning rate: 1e-3 (stable) and 5e-3 (exploding), the paper's ratio. The explosions are loss spikes
/// (3–200× the running minimum for a few steps, with grad norms of 10²–10⁴) from which these small models partly
/// recover; the ground truth counts the first one.
/// </summary>
public sealed class MlpLearningRateScenario : MlpScenarioBase
{
    /// <inheritdoc />
    public override string Name => "mlp-lr";

    /// <inheritdoc />
    public override string Description =>
        "Residual MLP (6 blocks, width 128, GELU, no normalisation) on a synthetic teacher task with 10% label noise, batch 512; AdamW, constant LR; exploding = 5x higher LR.";

    /// <inheritdoc />
    public override IReadOnlyDictionary<string, string> Defaults { get; } = MlpDefaults().With(("steps", "1500"));

    /// <inheritdoc />
    public override IReadOnlyDictionary<string, IReadOnlyDictionary<string, string>> Configs { get; } =
        new Dictionary<string, IReadOnlyDictionary<string, string>>(StringComparer.Ordinal)
        {
            ["stable"] = GptLearningRateScenario.Layer(("lr", "1e-3")),
            ["exploding"] = GptLearningRateScenario.Layer(("lr", "5e-3")),
        };
}
