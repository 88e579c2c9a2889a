using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace SpectralAlign.Scenarios.Training;

/// <summary>
/// A copy of a run's model (every parameter and buffer of its state dict) and optimizer (TorchSharp's own
/// <c>save_state_dict</c>: moments, step counts and every parameter group's options, learning rate and betas included)
/// at the start of a step. Restoring it into the same run rewinds training to that step exactly; with
/// <see cref="TrainingSetup.StepIndexedData"/> the continuation is bit-for-bit the original one.
/// </summary>
public sealed class RunSnapshot : IDisposable
{
    private readonly Dictionary<string, Tensor> _model;
    private readonly byte[] _optimizer;
    private bool _disposed;

    private RunSnapshot(long step, Dictionary<string, Tensor> model, byte[] optimizer)
    {
        Step = step;
        _model = model;
        _optimizer = optimizer;
    }

    /// <summary>The step the restored run executes next.</summary>
    public long Step { get; }

    /// <summary>Bytes held: model tensors plus the serialised optimizer state.</summary>
    public long Bytes => _model.Values.Sum(t => t.NumberOfElements * t.ElementSize) + _optimizer.LongLength;

    /// <summary>Copies the model and optimizer of a run.</summary>
    /// <param name="setup">The run.</param>
    /// <param name="step">The step the run would execute next.</param>
    /// <returns>The snapshot; the caller disposes it.</returns>
    /// <exception cref="NotSupportedException">The optimizer is not one of TorchSharp's managed optimizers (which
    /// alone can save their state).</exception>
    public static RunSnapshot Capture(TrainingSetup setup, long step)
    {
        ArgumentNullException.ThrowIfNull(setup);
        var optimizer = Helper(setup.Optimizer);
        using var noGrad = no_grad();
        var model = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var (name, tensor) in setup.Model.state_dict())
            model[name] = tensor.detach().clone().DetachFromDisposeScope();
        using var memory = new MemoryStream();
        using (var writer = new BinaryWriter(memory, System.Text.Encoding.UTF8, leaveOpen: true))
            optimizer.save_state_dict(writer);
        return new RunSnapshot(step, model, memory.ToArray());
    }

    /// <summary>Writes the snapshot back into the run's model and optimizer (in place: the same parameter objects,
    /// so hooks and the optimizer's parameter list stay valid).</summary>
    /// <param name="setup">The run the snapshot was captured from (or one built identically).</param>
    /// <exception cref="InvalidDataException">The model's state dict does not match the snapshot's (names or
    /// shapes).</exception>
    public void Restore(TrainingSetup setup)
    {
        ArgumentNullException.ThrowIfNull(setup);
        ObjectDisposedException.ThrowIf(_disposed, this);
        var optimizer = Helper(setup.Optimizer);
        var target = setup.Model.state_dict();
        var problems = target.Keys.Except(_model.Keys).Select(k => $"'{k}' is not in the snapshot")
            .Concat(_model.Keys.Except(target.Keys).Select(k => $"'{k}' is not in the model"))
            .Concat(target.Where(kv => _model.TryGetValue(kv.Key, out var s) && !s.shape.SequenceEqual(kv.Value.shape))
                .Select(kv => $"'{kv.Key}' has shape [{string.Join(",", kv.Value.shape)}], the snapshot [{string.Join(",", _model[kv.Key].shape)}]"))
            .ToList();
        if (problems.Count > 0)
            throw new InvalidDataException("The snapshot does not fit the model: " + string.Join("; ", problems) + ".");
        using (no_grad())
        {
            foreach (var (name, tensor) in target)
                tensor.copy_(_model[name]);
        }

        using var memory = new MemoryStream(_optimizer, writable: false);
        using var reader = new BinaryReader(memory);
        optimizer.load_state_dict(reader);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (_disposed)
            return;
        _disposed = true;
        foreach (var t in _model.Values)
            t.Dispose();
        _model.Clear();
    }

    private static OptimizerHelper Helper(optim.Optimizer optimizer) =>
        optimizer as OptimizerHelper
        ?? throw new NotSupportedException($"Optimizer {optimizer.GetType().Name} cannot save its state (only TorchSharp's managed optimizers, OptimizerHelper, can).");
}
