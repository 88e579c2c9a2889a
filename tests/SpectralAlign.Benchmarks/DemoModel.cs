using SpectralAlign.Scenarios;
using SpectralAlign.Scenarios.Training;
using static TorchSharp.torch;

namespace SpectralAlign.Benchmarks;

/// <summary>
/// The main demo's language model (char-level GPT, 4 blocks, d = 64, q/k/v/o + SwiGLU gate/up/down, no
/// normalisation, 29 Linear layers, batch 16 × 64 tokens) with a learning rate low enough that it trains without
/// exploding, so every timed step does the same work; and one plain training step.
/// </summary>
internal sealed class DemoModel : IDisposable
{
    private readonly TrainingSetup _setup;
    private long _step;

    /// <param name="seed">Seed of the model, the data and torch's global generator.</param>
    /// <param name="learningRate">Peak learning rate; <c>null</c> for the demo's own (5e-2, which explodes).</param>
    /// <param name="config"><c>exploding</c> (the demo: no normalisation) or <c>stable</c> (RMSNorm).</param>
    public DemoModel(int seed, string? learningRate = "5e-3", string config = "exploding")
    {
        manual_seed(seed);
        var scenario = ScenarioCatalog.Get("gpt-norm");
        var settings = scenario.Settings(config, learningRate is null ? null : [new("lr", learningRate)]);
        _setup = scenario.Create(settings, seed);
        _setup.Model.train();
    }

    public nn.Module<Tensor, Tensor> Model => _setup.Model;

    /// <summary>Steps the scenario trains for.</summary>
    public int Steps => _setup.Steps;

    /// <summary>One optimizer step (zero_grad, forward through <c>call</c>, loss, backward, step, loss read back as a
    /// training loop logs it), then <paramref name="monitor"/>?.Step().</summary>
    public double Step(SpectralMonitor? monitor)
    {
        double loss;
        using (var scope = NewDisposeScope())
        {
            double lr = _setup.LearningRate(_step);
            foreach (var group in _setup.Optimizer.ParamGroups)
                group.LearningRate = lr;
            _setup.Optimizer.zero_grad();
            var (x, y) = _setup.NextBatch(_step);
            var lossTensor = _setup.Loss(_setup.Model.call(x), y);
            lossTensor.backward();
            _setup.Optimizer.step();
            loss = lossTensor.item<float>();
        }

        monitor?.Step();
        _step++;
        return loss;
    }

    public void Dispose() => _setup.Dispose();
}
