using Microsoft.Extensions.Logging;
using SpectralAlign.Telemetry;
using static TorchSharp.torch;

namespace SpectralAlign.Guard.LearningRate;

/// <summary>
/// The guard's learning-rate back-off: the <see cref="RecoverySchedule"/> in force and the
/// <see cref="LearningRateScaler"/> that writes its factor into the optimizer, recorded and logged when it changes.
/// </summary>
internal sealed class LearningRateRecovery(optim.Optimizer optimizer, ILogger logger)
{
    private readonly LearningRateScaler _scaler = new(optimizer);

    /// <summary>The factor in force (1 when none).</summary>
    public double Scale => _scaler.Scale;

    /// <summary>The schedule in force (<see cref="RecoverySchedule.None"/> when none).</summary>
    public RecoverySchedule Schedule { get; private set; } = RecoverySchedule.None;

    /// <summary>Backs off from <paramref name="step"/> on as <paramref name="options"/> say, and applies the factor
    /// for that step.</summary>
    public void BackOff(long step, TrainingGuardOptions options)
    {
        Schedule = Schedule.BackOff(step, options.LearningRateFactor, options.MinLearningRateScale, options.LearningRateHoldSteps, options.LearningRateRecoverySteps);
        Update(step);
    }

    /// <summary>Sets the factor the schedule gives for the update of <paramref name="nextStep"/>.</summary>
    public void Update(long nextStep)
    {
        double scale = Schedule.ScaleAt(nextStep);
        if (scale == _scaler.Scale)
            return;
        _scaler.SetScale(scale);
        GuardTelemetry.LearningRateScaled(scale, logger);
        if (scale == 1)
        {
            Schedule = RecoverySchedule.None;
            Log.GuardLearningRateRestored(logger, nextStep);
        }
    }

    /// <summary>The scaler's bookkeeping for a checkpoint (see <see cref="LearningRateScaler.Save"/>).</summary>
    public (double Scale, double[] Unscaled, double[] Written) SaveScaler() => _scaler.Save();

    /// <summary>Restores a checkpoint's schedule and scaler bookkeeping, without touching the optimizer.</summary>
    public void Restore(RecoverySchedule schedule, (double Scale, double[] Unscaled, double[] Written) scaler)
    {
        _scaler.Restore(scaler.Scale, scaler.Unscaled, scaler.Written);
        Schedule = schedule;
    }
}
