using Microsoft.Extensions.Logging.Testing;
using SpectralAlign.Detection;
using TorchSharp.Modules;
using static SpectralAlign.Tests.Guard.GuardKit;
using static TorchSharp.torch;

namespace SpectralAlign.Tests.Guard;

/// <summary>A guarded training run for tests: the harness's MLP, an optimizer, a monitor watching every Linear, a
/// guard with a fake logger, and the interventions it raised.</summary>
internal sealed class GuardRig : IDisposable
{
    public GuardRig(TrainingGuardOptions? options = null, string optimizer = "Adam", SpectralMonitorOptions? monitor = null, long seed = 1, double lr = 1e-2)
    {
        Model = Mlp(seed);
        Data = GuardKit.Data(seed + 1);
        Optimizer = GuardKit.Optimizer(optimizer, Model.parameters(), lr);
        Monitor = new SpectralMonitor(monitor ?? new SpectralMonitorOptions { Interval = 5 });
        Monitor.WatchAll(Model);
        Guard = new TrainingGuard(Monitor, Model, Optimizer, options, Logger);
        Guard.Intervened += (_, i) => Interventions.Add(i);
        Guard.Exhausted += (_, i) => Exhaustions.Add(i);
    }

    public Sequential Model { get; }

    public (Tensor X, Tensor Y) Data { get; }

    public OptimizerHelper Optimizer { get; }

    public SpectralMonitor Monitor { get; }

    public TrainingGuard Guard { get; }

    public FakeLogger Logger { get; } = new();

    public List<GuardIntervention> Interventions { get; } = [];

    public List<GuardIntervention> Exhaustions { get; } = [];

    public List<float> Losses { get; } = [];

    public double LearningRate => Optimizer.ParamGroups.First().LearningRate;

    /// <summary>Trains step <paramref name="step"/> and hands the guard <paramref name="loss"/> (default: the real
    /// loss).</summary>
    public GuardAction Step(int step, double? loss = null)
    {
        float real = TrainStep(Model, Optimizer, Data, step);
        Losses.Add(real);
        return Guard.Step(loss ?? real);
    }

    /// <summary>Log records with event id <paramref name="id"/>.</summary>
    public IReadOnlyList<FakeLogRecord> Logged(int id) => Logger.Collector.GetSnapshot().Where(r => r.Id.Id == id).ToList();

    public void Dispose()
    {
        Guard.Dispose();
        Monitor.Dispose();
        Optimizer.Dispose();
        Model.Dispose();
        Data.X.Dispose();
        Data.Y.Dispose();
    }
}

/// <summary>A layer rule that calls one layer anomalous from a given step on (and every other layer normal).</summary>
internal sealed class FireFromStepRule(string layer, long fromStep) : LayerRule("TestFire", 0.5)
{
    protected internal override RuleScorer<LayerMeasurement> CreateScorer(string name) => new Scorer(name == layer, fromStep);

    private sealed class Scorer(bool target, long fromStep) : RuleScorer<LayerMeasurement>
    {
        public override double? Score(long step, LayerMeasurement input) => target && step >= fromStep ? 1 : 0;
    }
}
