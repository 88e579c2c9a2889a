using Microsoft.Extensions.Logging;

namespace SpectralAlign.Telemetry;

/// <summary>
/// The monitor's log messages, source-generated with stable event ids. Ranges: 1–19 the monitor (registry, capture,
/// step, state), 20–29 the sinks, 30–39 detection, 40–59 the guard. Only
/// <see cref="StepPublisher"/> (and the guard and sinks, each with its own logger) write them.
/// </summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 1, EventName = "SpectralCollapse", Level = LogLevel.Warning,
        Message = "Spectral alignment alert {Reason} in layer '{Layer}' at step {Step} (episode since step {EpisodeStart}): {Detail}")]
    public static partial void CollapseDetected(ILogger logger, string reason, string layer, long step, long episodeStart, string detail);

    [LoggerMessage(EventId = 2, EventName = "NonFiniteValues", Level = LogLevel.Warning,
        Message = "Non-finite values in layer '{Layer}' at step {Step}: {Detail}")]
    public static partial void NonFinite(ILogger logger, string layer, long step, string detail);

    [LoggerMessage(EventId = 3, EventName = "HookNotFiring", Level = LogLevel.Warning,
        Message = "The hook of watched layer '{Layer}' has not fired for {Steps} steps. TorchSharp runs forward hooks only when a module is invoked with module.call(x), never with module.forward(x): call this layer (and every module that contains it) with .call(), or dispose its LayerWatch.")]
    public static partial void HookNotFiring(ILogger logger, string layer, long steps);

    [LoggerMessage(EventId = 4, EventName = "EventHandlerFailed", Level = LogLevel.Error,
        Message = "A handler of the {EventName} event threw; the exception was caught and training continues.")]
    public static partial void HandlerFailed(ILogger logger, string eventName, Exception exception);

    [LoggerMessage(EventId = 5, EventName = "CaptureFailed", Level = LogLevel.Error,
        Message = "Capturing the input of layer '{Layer}' failed at step {Step}; the layer's input is skipped for this call.")]
    public static partial void CaptureFailed(ILogger logger, string layer, long step, Exception exception);

    [LoggerMessage(EventId = 6, EventName = "MeasurementFailed", Level = LogLevel.Error,
        Message = "Measuring step {Step} failed; no measurements were produced for it and training continues.")]
    public static partial void MeasurementFailed(ILogger logger, long step, Exception exception);

    [LoggerMessage(EventId = 7, EventName = "UnexpectedInput", Level = LogLevel.Warning,
        Message = "Layer '{Layer}' received an input of shape [{Shape}] and type {DType}; expected a floating-point tensor whose last dimension is {InFeatures}. Such inputs are ignored (logged once per layer).")]
    public static partial void UnexpectedInput(ILogger logger, string layer, string shape, string dType, int inFeatures);

    [LoggerMessage(EventId = 8, EventName = "NotConverged", Level = LogLevel.Debug,
        Message = "Subspace iteration for layer '{Layer}' at step {Step} stopped after {Iterations} iterations with residual {Residual:G3}.")]
    public static partial void NotConverged(ILogger logger, string layer, long step, int iterations, double residual);

    [LoggerMessage(EventId = 9, EventName = "Measured", Level = LogLevel.Trace,
        Message = "{Measurement}")]
    public static partial void Measured(ILogger logger, LayerMeasurement measurement);

    [LoggerMessage(EventId = 10, EventName = "Watching", Level = LogLevel.Debug,
        Message = "Watching layer '{Layer}' ({Kind}, weight {OutFeatures}x{InFeatures}).")]
    public static partial void Watching(ILogger logger, string layer, string kind, int outFeatures, int inFeatures);

    [LoggerMessage(EventId = 11, EventName = "WeightMissing", Level = LogLevel.Warning,
        Message = "Watched layer '{Layer}' no longer has a weight; it is skipped until it has one again.")]
    public static partial void WeightMissing(ILogger logger, string layer);

    [LoggerMessage(EventId = 12, EventName = "SinkFailed", Level = LogLevel.Error,
        Message = "The sink {Sink} threw while handling step {Step}; the exception was caught and training continues.")]
    public static partial void SinkFailed(ILogger logger, string sink, long step, Exception exception);

    [LoggerMessage(EventId = 13, EventName = "CaptureSinkFailed", Level = LogLevel.Error,
        Message = "The capture sink {Sink} threw while handling layer '{Layer}' at step {Step}; the exception was caught and training continues.")]
    public static partial void CaptureSinkFailed(ILogger logger, string sink, string layer, long step, Exception exception);

    [LoggerMessage(EventId = 14, EventName = "StateNotRestored", Level = LogLevel.Warning,
        Message = "Monitor state: {Problem}.")]
    public static partial void StateNotRestored(ILogger logger, string problem);

    [LoggerMessage(EventId = 15, EventName = "DetectionFailed", Level = LogLevel.Error,
        Message = "Detection threw for '{Layer}' at step {Step}; its alerts of this step are lost, the exception was caught and training continues.")]
    public static partial void DetectionFailed(ILogger logger, string layer, long step, Exception exception);

    [LoggerMessage(EventId = 16, EventName = "MetricsListenerFailed", Level = LogLevel.Error,
        Message = "A listener of the SpectralAlign meter threw while step {Step} was recorded; the step's remaining metrics are lost, the exception was caught and training continues.")]
    public static partial void MetricsFailed(ILogger logger, long step, Exception exception);

    [LoggerMessage(EventId = 17, EventName = "LayerInputFailed", Level = LogLevel.Error,
        Message = "Taking the input of watched layer '{Layer}' at step {Step} failed (its weight selector threw); that layer is not measured on this step, the others are, and training continues.")]
    public static partial void LayerInputFailed(ILogger logger, string layer, long step, Exception exception);

    [LoggerMessage(EventId = 18, EventName = "RowRecoveryFailed", Level = LogLevel.Warning,
        Message = "Recovering the input rows of watched layer '{Layer}' at step {Step} failed (e.g. through a non-finite weight); that layer is measured without rows on this step (its weight's finiteness and spectrum only), and training continues.")]
    public static partial void RowRecoveryFailed(ILogger logger, string layer, long step, Exception exception);

    [LoggerMessage(EventId = 20, EventName = "RunLogWriteFailed", Level = LogLevel.Error,
        Message = "Writing the run log '{Path}' failed at step {Step}; the records of this write are lost, training continues and the next write tries again.")]
    public static partial void RunLogWriteFailed(ILogger logger, string path, long step, Exception exception);

    [LoggerMessage(EventId = 21, EventName = "TensorBoardWriteFailed", Level = LogLevel.Error,
        Message = "Writing TensorBoard events to '{Directory}' failed at step {Step}; training continues.")]
    public static partial void TensorBoardWriteFailed(ILogger logger, string directory, long step, Exception exception);

    [LoggerMessage(EventId = 22, EventName = "OfflineCaptureFailed", Level = LogLevel.Error,
        Message = "Saving the tensors of layer '{Layer}' at step {Step} to '{Directory}' failed; training continues.")]
    public static partial void OfflineCaptureFailed(ILogger logger, string layer, long step, string directory, Exception exception);

    [LoggerMessage(EventId = 30, EventName = "RuleFailed", Level = LogLevel.Error,
        Message = "Detection rule '{Reason}' threw on '{Subject}' at step {Step}; it stays switched off there and training continues.")]
    public static partial void RuleFailed(ILogger logger, string reason, string subject, long step, Exception exception);
}
