using TorchSharp;
using static TorchSharp.torch;

namespace SpectralAlign.Scenarios.Training;

/// <summary>Everything the training loop needs for one run; created by a <see cref="Scenario"/>.</summary>
public sealed class TrainingSetup : IDisposable
{
    private readonly List<IDisposable> _owned = [];

    /// <summary>The model; its Linear layers are called with <c>.call</c>, so the monitor's hooks fire.</summary>
    public required nn.Module<Tensor, Tensor> Model { get; init; }

    /// <summary>The optimizer.</summary>
    public required optim.Optimizer Optimizer { get; init; }

    /// <summary>The batch of a step: inputs and targets (created inside the step's dispose scope).</summary>
    public required Func<long, (Tensor X, Tensor Y)> NextBatch { get; init; }

    /// <summary>The scalar float32 training loss from the model output and the targets.</summary>
    public required Func<Tensor, Tensor, Tensor> Loss { get; init; }

    /// <summary>Steps to train if the loss does not explode.</summary>
    public required int Steps { get; init; }

    /// <summary>Learning rate of a step.</summary>
    public required Func<long, double> LearningRate { get; init; }

    /// <summary>Global gradient-norm clipping threshold; 0 for none.</summary>
    public double ClipNorm { get; init; }

    /// <summary>
    /// Called at the start of every step, before the learning rate is set (null for nothing). It must depend on the
    /// step only (for example: set Adam's β2 to its value for this step), so that a run restored from a
    /// <see cref="RunSnapshot"/> continues exactly as the original did.
    /// </summary>
    public Action<long>? PrepareStep { get; init; }

    /// <summary>The step at which a fork scenario's branch departs from its shared base run (its trigger acts from
    /// this step on); null for a run that is not a fork.</summary>
    public long? ForkStep { get; init; }

    /// <summary>The largest attention logit of the last forward pass, for models with attention (null otherwise); read
    /// once per step into the record as a diagnostic of attention-logit growth.</summary>
    public Func<double>? MaxAttentionLogit { get; init; }

    /// <summary>
    /// True when <see cref="NextBatch"/> is a pure function of the step (batch t is drawn from the run's seed and t),
    /// so that a run restored from a snapshot sees exactly the batches it saw before; false for a stream whose
    /// position a restore does not rewind (the run then continues with the stream's next batches).
    /// </summary>
    public bool StepIndexedData { get; init; }

    /// <summary>Registers an object disposed with the setup (data sources, generators).</summary>
    /// <typeparam name="T">Its type.</typeparam>
    /// <param name="item">The object.</param>
    /// <returns><paramref name="item"/>.</returns>
    public T Own<T>(T item)
        where T : IDisposable
    {
        _owned.Add(item);
        return item;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        Optimizer.Dispose();
        Model.Dispose();
        foreach (var item in _owned)
            item.Dispose();
        _owned.Clear();
    }
}
