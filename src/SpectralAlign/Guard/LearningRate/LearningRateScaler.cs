using static TorchSharp.torch;

namespace SpectralAlign.Guard.LearningRate;

/// <summary>
/// Applies a factor to an optimizer's learning rates through its parameter groups (<see cref="optim.Optimizer.ParamGroups"/>,
/// the interface TorchSharp's LR schedulers use). When the factor changes from s to s′, each group's current rate is
/// multiplied by s′/s; when nobody else has changed a group's rate since the scaler last wrote it, the rate is instead
/// computed from the value the group had before the first change, so returning to a factor of 1 restores it exactly.
/// </summary>
internal sealed class LearningRateScaler(optim.Optimizer optimizer)
{
    private double[] _unscaled = [];
    private double[] _written = [];

    /// <summary>The factor in force (1 when none).</summary>
    public double Scale { get; private set; } = 1;

    /// <summary>Sets the factor, rewriting every parameter group's learning rate.</summary>
    /// <param name="scale">The new factor, positive and finite.</param>
    public void SetScale(double scale)
    {
        if (!(scale > 0) || !double.IsFinite(scale))
            throw new ArgumentOutOfRangeException(nameof(scale), scale, "A learning-rate factor must be positive and finite.");
        if (scale == Scale)
            return;
        var groups = optimizer.ParamGroups.ToArray();
        if (_unscaled.Length != groups.Length)
        {
            _unscaled = new double[groups.Length];
            _written = Enumerable.Repeat(double.NaN, groups.Length).ToArray();
        }

        for (int i = 0; i < groups.Length; i++)
        {
            double current = groups[i].LearningRate;
            if (current != _written[i])
                _unscaled[i] = Scale == 1 ? current : current / Scale;     // someone else set it: take it as base × Scale
            double next = scale == 1 ? _unscaled[i] : _unscaled[i] * scale;
            groups[i].LearningRate = next;
            _written[i] = next;
        }

        Scale = scale;
    }

    /// <summary>The bookkeeping a resumed run needs to continue exactly (see <see cref="Restore"/>).</summary>
    public (double Scale, double[] Unscaled, double[] Written) Save() => (Scale, [.. _unscaled], [.. _written]);

    /// <summary>Restores what <see cref="Save"/> returned, without touching the optimizer (whose learning rates come
    /// back with its own checkpoint).</summary>
    public void Restore(double scale, double[] unscaled, double[] written)
    {
        if (!(scale > 0) || !double.IsFinite(scale) || unscaled.Length != written.Length)
            throw new InvalidDataException("The learning-rate scaler's saved state is inconsistent.");
        Scale = scale;
        _unscaled = [.. unscaled];
        _written = [.. written];
    }
}
