using System.Text.Json.Nodes;
using SpectralAlign.Guard.LearningRate;

namespace SpectralAlign.State;

/// <summary>
/// The guard's state for a checkpoint, as the guard holds it (see <see cref="GuardStateDocument"/> for the saved form).
/// </summary>
/// <param name="Step">The next step the guard will see.</param>
/// <param name="Interventions">Interventions made.</param>
/// <param name="ExhaustedRaised">Whether <see cref="TrainingGuard.Exhausted"/> has been raised.</param>
/// <param name="EpisodeStart">The open episode's first step; null when none is open.</param>
/// <param name="LastTrigger">The step of the last trigger (<see cref="long.MinValue"/> when none).</param>
/// <param name="LastIntervention">The step of the last intervention (<see cref="long.MinValue"/> when none).</param>
/// <param name="Schedule">The learning-rate recovery schedule.</param>
/// <param name="Scaler">The learning-rate scaler's bookkeeping (see <see cref="LearningRateScaler.Save"/>).</param>
/// <param name="Losses">The loss-spike window, oldest first.</param>
/// <param name="Monitor">The monitor's state (<see cref="SpectralMonitor.SaveState(Stream)"/>), opaque here.</param>
internal sealed record GuardState(
    long Step,
    int Interventions,
    bool ExhaustedRaised,
    long? EpisodeStart,
    long LastTrigger,
    long LastIntervention,
    RecoverySchedule Schedule,
    (double Scale, double[] Unscaled, double[] Written) Scaler,
    double[] Losses,
    JsonNode Monitor);
