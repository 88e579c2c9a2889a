namespace SpectralAlign;

/// <summary>
/// Run-level numbers of one optimizer step that run-level detection rules (loss and gradient-norm spikes) judge:
/// pass them to <see cref="SpectralMonitor.Step(TrainingSignals)"/>. Leave a value <c>null</c> when you do not have it;
/// reading a loss from the device is a synchronisation, so only pass what your loop reads anyway.
/// </summary>
/// <param name="Loss">The step's training loss.</param>
/// <param name="GradientNorm">The global gradient norm (before clipping).</param>
public readonly record struct TrainingSignals(double? Loss = null, double? GradientNorm = null);
