using Microsoft.Extensions.Logging;

namespace SpectralAlign.Telemetry;

/// <content>The guard's messages: event ids 40–59.</content>
internal static partial class Log
{
    [LoggerMessage(EventId = 40, EventName = "GuardSnapshot", Level = LogLevel.Debug,
        Message = "Guard snapshot of step {Step} taken in {Milliseconds:F1} ms: {Count} held, {Bytes} bytes.")]
    public static partial void GuardSnapshot(ILogger logger, long step, double milliseconds, int count, long bytes);

    [LoggerMessage(EventId = 41, EventName = "GuardSnapshotFailed", Level = LogLevel.Error,
        Message = "The guard could not take a snapshot at step {Step}; it keeps the ones it has and tries again at the next interval.")]
    public static partial void GuardSnapshotFailed(ILogger logger, long step, Exception exception);

    [LoggerMessage(EventId = 42, EventName = "GuardIntervened", Level = LogLevel.Warning,
        Message = "Guard intervention {Number} at step {Step}: {Intervention}")]
    public static partial void GuardIntervened(ILogger logger, int number, long step, GuardIntervention intervention);

    [LoggerMessage(EventId = 43, EventName = "GuardRollbackFailed", Level = LogLevel.Error,
        Message = "The guard could not roll back to the snapshot of step {SnapshotStep} at step {Step} (the model and optimizer were left as they were: {StateIntact}).")]
    public static partial void GuardRollbackFailed(ILogger logger, long snapshotStep, long step, bool stateIntact, Exception exception);

    [LoggerMessage(EventId = 44, EventName = "GuardNoSnapshot", Level = LogLevel.Warning,
        Message = "The guard has no snapshot older than the episode's start (step {EpisodeStart}) to roll back to at step {Step}; it acts without a rollback.")]
    public static partial void GuardNoSnapshot(ILogger logger, long episodeStart, long step);

    [LoggerMessage(EventId = 45, EventName = "GuardCorrected", Level = LogLevel.Information,
        Message = "Guard {Correction} correction of layer '{Layer}' at step {Step}: σ1 {Before:G4} -> {After:G4}.")]
    public static partial void GuardCorrected(ILogger logger, SpectralCorrection correction, string layer, long step, double before, double after);

    [LoggerMessage(EventId = 46, EventName = "GuardCorrectionRefused", Level = LogLevel.Warning,
        Message = "Guard {Correction} correction of layer '{Layer}' at step {Step} not applied: {Problem}.")]
    public static partial void GuardCorrectionRefused(ILogger logger, SpectralCorrection correction, string layer, long step, string problem);

    [LoggerMessage(EventId = 47, EventName = "GuardExhausted", Level = LogLevel.Error,
        Message = "The guard has made its {MaxInterventions} interventions and stops intervening (trigger at step {Step}: {Reasons}). Training goes on unguarded: stop the run or decide yourself.")]
    public static partial void GuardExhausted(ILogger logger, int maxInterventions, long step, string reasons);

    [LoggerMessage(EventId = 48, EventName = "GuardMonitorDisposed", Level = LogLevel.Error,
        Message = "The guard's monitor has been disposed (noticed at step {Step}): the guard acts only on the loss from now on.")]
    public static partial void GuardMonitorDisposed(ILogger logger, long step);

    [LoggerMessage(EventId = 49, EventName = "GuardTriggerIgnored", Level = LogLevel.Debug,
        Message = "Guard trigger {Reason} in '{Layer}' at step {Step} ignored: cooling down after the intervention of step {LastIntervention}.")]
    public static partial void GuardTriggerIgnored(ILogger logger, string reason, string layer, long step, long lastIntervention);

    [LoggerMessage(EventId = 50, EventName = "GuardMomentsKept", Level = LogLevel.Warning,
        Message = "Guard correction of layer '{Layer}': its optimizer state was kept ({Problem}).")]
    public static partial void GuardMomentsKept(ILogger logger, string layer, string problem);

    [LoggerMessage(EventId = 51, EventName = "GuardLearningRateRestored", Level = LogLevel.Information,
        Message = "The guard's learning-rate factor is back to 1 at step {Step}.")]
    public static partial void GuardLearningRateRestored(ILogger logger, long step);

    [LoggerMessage(EventId = 52, EventName = "GuardScheduledCorrection", Level = LogLevel.Debug,
        Message = "Scheduled {Correction} at step {Step}: {Applied} of {Layers} layers corrected.")]
    public static partial void GuardScheduledCorrection(ILogger logger, SpectralCorrection correction, long step, int applied, int layers);

    [LoggerMessage(EventId = 53, EventName = "GuardFailed", Level = LogLevel.Error,
        Message = "The guard failed at step {Step} ({Phase}); the exception was caught and training continues.")]
    public static partial void GuardFailed(ILogger logger, long step, string phase, Exception exception);

    [LoggerMessage(EventId = 54, EventName = "GuardStateNotRestored", Level = LogLevel.Warning,
        Message = "Guard state: {Problem}.")]
    public static partial void GuardStateNotRestored(ILogger logger, string problem);

    [LoggerMessage(EventId = 55, EventName = "GuardMonitorFailed", Level = LogLevel.Error,
        Message = "Stepping the monitor failed at step {Step}; the guard goes on with the loss alone for this step.")]
    public static partial void GuardMonitorFailed(ILogger logger, long step, Exception exception);

    [LoggerMessage(EventId = 56, EventName = "GuardHandlerFailed", Level = LogLevel.Error,
        Message = "A handler of the guard's {EventName} event threw; the exception was caught and training continues.")]
    public static partial void GuardHandlerFailed(ILogger logger, string eventName, Exception exception);

    [LoggerMessage(EventId = 57, EventName = "GuardMetricsFailed", Level = LogLevel.Error,
        Message = "A metrics listener of the guard's instruments threw; the exception was caught and training continues.")]
    public static partial void GuardMetricsFailed(ILogger logger, Exception exception);
}
