using TorchSharp.Modules;
using static TorchSharp.torch;

namespace SpectralAlign.Scenarios.Training;

/// <summary>What one <see cref="TrainingLoop.Step"/> did.</summary>
/// <param name="Step">The step that ran.</param>
/// <param name="Loss">Its training loss (float32 cross-entropy of the step's batch, before the update).</param>
/// <param name="GradNorm">Global gradient norm before clipping (NaN when the loss was not finite and no backward pass
/// ran).</param>
/// <param name="ClippedNorm">Global gradient norm after clipping (equal to <paramref name="GradNorm"/> when nothing
/// was clipped).</param>
/// <param name="LearningRate">The learning rate of the update: the schedule's value times
/// <see cref="TrainingLoop.LearningRateScale"/>.</param>
public readonly record struct StepResult(long Step, double Loss, double GradNorm, double ClippedNorm, double LearningRate);

/// <summary>
/// The step function of a scenario run, for any loop that drives one (the suite's <see cref="Trainer"/>, an evaluation
/// that intervenes): <see cref="Step"/> runs step <see cref="NextStep"/> (prepare, learning rate, batch, forward
/// through <c>call</c> so the monitor's hooks fire, float32 loss, backward, gradient norm, clipping, optimizer step,
/// for AdamW through <see cref="AdamWStep"/>) and returns what happened; the caller does whatever comes next (step a
/// monitor or a guard, stop, roll back). It never stops at an explosion: a non-finite loss skips backward and the
/// update, and the next call runs the next step. Not thread-safe.
/// </summary>
public sealed class TrainingLoop
{
    private readonly Parameter[] _parameters;
    private double _learningRateScale = 1;

    /// <summary>Creates the loop at step 0.</summary>
    /// <param name="setup">The run (the caller keeps ownership).</param>
    public TrainingLoop(TrainingSetup setup)
    {
        ArgumentNullException.ThrowIfNull(setup);
        Setup = setup;
        _parameters = setup.Model.parameters().ToArray();
        Clipping = setup.ClipNorm > 0 ? new NormClipping(setup.ClipNorm) : null;
    }

    /// <summary>The run.</summary>
    public TrainingSetup Setup { get; }

    /// <summary>The model's parameters, in the optimizer's order.</summary>
    public IReadOnlyList<Parameter> Parameters => _parameters;

    /// <summary>The step <see cref="Step"/> runs next; starts at 0, set by <see cref="Restore"/> (or by the caller to
    /// skip steps).</summary>
    public long NextStep { get; set; }

    /// <summary>Factor applied to the schedule's learning rate of every following step; default 1.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Not positive and finite.</exception>
    public double LearningRateScale
    {
        get => _learningRateScale;
        set => _learningRateScale = value > 0 && double.IsFinite(value)
            ? value
            : throw new ArgumentOutOfRangeException(nameof(value), value, "The learning-rate scale must be positive and finite.");
    }

    /// <summary>Gradient clipping, or null for none. Default: <see cref="NormClipping"/> at the setup's
    /// <see cref="TrainingSetup.ClipNorm"/> when that is positive, else none.</summary>
    public IGradientClipping? Clipping { get; set; }

    /// <summary>True once <see cref="NextStep"/> has reached the setup's planned steps.</summary>
    public bool Finished => NextStep >= Setup.Steps;

    /// <summary>Runs step <see cref="NextStep"/> inside its own dispose scope and advances it.</summary>
    /// <returns>What the step did.</returns>
    public StepResult Step()
    {
        var result = Execute(Setup, _parameters, NextStep, _learningRateScale, Clipping);
        NextStep = result.Step + 1;
        return result;
    }

    /// <summary>One step of a setup (see <see cref="Step"/>).</summary>
    internal static StepResult Execute(TrainingSetup setup, Parameter[] parameters, long step, double learningRateScale, IGradientClipping? clipping)
    {
        setup.PrepareStep?.Invoke(step);
        double lr = setup.LearningRate(step) * learningRateScale;
        double gradNorm = double.NaN, clipped = double.NaN, loss;
        using var scope = NewDisposeScope();
        foreach (var group in setup.Optimizer.ParamGroups)
            group.LearningRate = lr;
        setup.Optimizer.zero_grad();
        var (x, y) = setup.NextBatch(step);
        var lossTensor = setup.Loss(setup.Model.call(x), y);
        loss = lossTensor.item<float>();
        if (double.IsFinite(loss))
        {
            lossTensor.backward();
            gradNorm = Trainer.GlobalGradNorm(parameters);
            clipped = clipping is not null && double.IsFinite(gradNorm) ? clipping.Clip(parameters, gradNorm) : gradNorm;
            // TorchSharp's AdamW.step() reads temporary Scalars that another thread's garbage collection can free
            // mid-call; AdamWStep is the same update with its Scalars kept alive (bit for bit the same result).
            if (AdamWStep.Supports(setup.Optimizer))
                AdamWStep.Run(setup.Optimizer);
            else
                setup.Optimizer.step();
        }

        return new StepResult(step, loss, gradNorm, clipped, lr);
    }

    /// <summary>Copies the model and optimizer as they are before <see cref="NextStep"/>.</summary>
    /// <returns>The snapshot; the caller disposes it.</returns>
    public RunSnapshot Snapshot() => RunSnapshot.Capture(Setup, NextStep);

    /// <summary>Writes a snapshot back and rewinds <see cref="NextStep"/> to its step. Clipping state and the
    /// learning-rate scale are left as they are.</summary>
    /// <param name="snapshot">A snapshot of this run.</param>
    public void Restore(RunSnapshot snapshot)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        snapshot.Restore(Setup);
        NextStep = snapshot.Step;
    }
}
