namespace SpectralAlign;

/// <summary>One reason a <see cref="TrainingGuard"/> acted.</summary>
/// <param name="Kind">What kind of trigger.</param>
/// <param name="Reason">The alert's reason (<see cref="AlertReasons"/> or a custom rule's), <c>NonFiniteLoss</c>,
/// <c>LossSpike</c>, or the reason given to <see cref="TrainingGuard.Trip"/>.</param>
/// <param name="Layer">The alerting layer, <see cref="CollapseAlert.RunLayer"/> for a run-level trigger.</param>
/// <param name="Step">The step the trigger belongs to.</param>
/// <param name="EpisodeStartStep">Where the trouble began: an alert's <see cref="CollapseAlert.EpisodeStartStep"/>, else
/// <paramref name="Step"/>.</param>
/// <param name="Detail">Human-readable numbers.</param>
public sealed record GuardTrigger(GuardTriggerKind Kind, string Reason, string Layer, long Step, long EpisodeStartStep, string Detail);
