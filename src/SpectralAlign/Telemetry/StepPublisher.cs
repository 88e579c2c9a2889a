using Microsoft.Extensions.Logging;
using SpectralAlign.Hooks;
using SpectralAlign.Monitoring;
using SpectralAlign.Spectral;
using static TorchSharp.torch;

namespace SpectralAlign.Telemetry;

/// <summary>
/// The monitor's only voice: raises its .NET events, calls its sinks and writes its log, always without the monitor's
/// lock (a handler or sink may call back into the monitor, even dispose it). Every handler and sink runs in its own
/// try/catch, so one failure neither reaches training nor starves the others; failures are logged and never rethrown.
/// It also records the metrics, which cost nothing until a listener subscribes; a <c>MeterListener</c> that throws is
/// isolated the same way.
/// </summary>
internal sealed class StepPublisher(object sender, ILogger logger, SpectralInstruments instruments, KeyValuePair<string, object?>[] metricTags)
{
    private readonly SinkList<ISpectralSink> _sinks = new();
    private readonly SinkList<ICaptureSink> _captureSinks = new();

    public event EventHandler<LayerMeasurement>? Measured;

    public event EventHandler<CollapseAlert>? CollapseDetected;

    /// <summary>When set, publishing is timed into it (benchmarks).</summary>
    public CostProfile? Profile { get; set; }

    /// <summary>Whether a step must keep its captures for capture sinks.</summary>
    public bool HasCaptureSinks => _captureSinks.Items.Length > 0;

    public IDisposable AddSink(ISpectralSink sink) => _sinks.Add(sink);

    public IDisposable AddCaptureSink(ICaptureSink sink) => _captureSinks.Add(sink);

    /// <summary>Reports everything a step produced: its problems, the capture sinks, the <c>Measured</c> and
    /// <c>CollapseDetected</c> events, then the sinks (only on steps that measured or alerted).</summary>
    public void Publish(StepOutcome outcome)
    {
        var profile = Profile;
        long start = profile is null ? 0 : CostProfile.Now;
        long step = outcome.Step;
        foreach (var layer in outcome.MissingWeights)
            Log.WeightMissing(logger, layer);
        foreach (var (layer, exception) in outcome.LayerFailures)
            Log.LayerInputFailed(logger, layer, step, exception);
        foreach (var (layer, exception) in outcome.RowFailures)
            Log.RowRecoveryFailed(logger, layer, step, exception);
        if (outcome.MeasurementFailure is { } failure)
            Log.MeasurementFailed(logger, step, failure);
        foreach (var (layer, exception) in outcome.DetectionFailures)
            Log.DetectionFailed(logger, layer, step, exception);
        foreach (var fault in outcome.RuleFaults)
            Log.RuleFailed(logger, fault.Reason, fault.Subject, fault.Step, fault.Exception);
        foreach (var (layer, steps) in outcome.SilentHooks)
            Log.HookNotFiring(logger, layer, steps);

        foreach (var record in outcome.Captures)
        {
            foreach (var sink in _captureSinks.Items)
                Call(sink, record, static (s, r) => s.OnCapture(r), (s, r, ex) => Log.CaptureSinkFailed(logger, s.GetType().Name, r.Layer, r.Step, ex));
        }

        foreach (var m in outcome.Measurements)
        {
            if ((m.Conditions & MeasurementConditions.NotConverged) != 0)
                Log.NotConverged(logger, m.Layer, step, m.Iterations, m.Residual);
            Log.Measured(logger, m);
            Raise(Measured, m, nameof(Measured));
        }

        foreach (var alert in outcome.Alerts)
        {
            if (alert.Reason == AlertReasons.NonFinite)
                Log.NonFinite(logger, alert.Layer, alert.Step, alert.Detail);
            else
                Log.CollapseDetected(logger, alert.Reason, alert.Layer, alert.Step, alert.EpisodeStartStep, alert.Detail);
            Raise(CollapseDetected, alert, nameof(CollapseDetected));
        }

        Call(outcome, metricTags, (o, tags) => instruments.Record(o.Step, o.Measurements, o.Alerts, tags), (o, _, ex) => Log.MetricsFailed(logger, o.Step, ex));
        if (outcome.Measurements.Length > 0 || outcome.Alerts.Count > 0)
        {
            var report = new StepReport { Step = step, Measurements = Array.AsReadOnly(outcome.Measurements), Alerts = outcome.Alerts.AsReadOnly() };
            foreach (var sink in _sinks.Items)
                Call(sink, report, static (s, r) => s.OnStep(r), (s, r, ex) => Log.SinkFailed(logger, s.GetType().Name, r.Step, ex));
        }

        if (outcome.Measurements.Length > 0)
            profile?.Add(CostProfile.Phase.Events, start);
    }

    /// <summary>Layers just registered.</summary>
    public void Watching(IEnumerable<WatchedLayer> layers)
    {
        foreach (var layer in layers)
            Log.Watching(logger, layer.Name, layer.View.Kind, layer.View.OutFeatures * layer.View.Groups, layer.View.InFeatures);
    }

    /// <summary>A hook saw an input it cannot use (reported once per layer, on the forward thread).</summary>
    public void InputRejected(WatchedLayer layer, Tensor input) =>
        Log.UnexpectedInput(logger, layer.Name, string.Join(", ", input.shape), input.dtype.ToString(), layer.View.InFeatures);

    /// <summary>A hook's capture threw (on the forward thread; the forward pass continues).</summary>
    public void CaptureFailed(string watch, long step, Exception exception) => Log.CaptureFailed(logger, watch, step, exception);

    /// <summary>What a restored state could not restore.</summary>
    public void StateNotRestored(IEnumerable<string> problems)
    {
        foreach (var problem in problems)
            Log.StateNotRestored(logger, problem);
    }

    private void Raise<T>(EventHandler<T>? handlers, T args, string eventName)
    {
        if (handlers is null)
            return;
        foreach (var handler in handlers.GetInvocationList())
            Call((EventHandler<T>)handler, args, (h, a) => h(sender, a), (_, _, ex) => Log.HandlerFailed(logger, eventName, ex));
    }

    private static void Call<TTarget, TArgs>(TTarget target, TArgs args, Action<TTarget, TArgs> call, Action<TTarget, TArgs, Exception> failed)
    {
        try
        {
            call(target, args);
        }
#pragma warning disable CA1031 // A handler's or sink's exception must never reach the training loop.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            failed(target, args, ex);
        }
    }

    /// <summary>A copy-on-write list of sinks: publishing enumerates a snapshot, registration never blocks it.</summary>
    private sealed class SinkList<T>
        where T : class
    {
        private readonly object _sync = new();
        private volatile T[] _items = [];

        public T[] Items => _items;

        public Registration Add(T item)
        {
            ArgumentNullException.ThrowIfNull(item);
            lock (_sync)
                _items = [.. _items, item];
            return new Registration(() =>
            {
                lock (_sync)
                {
                    int index = Array.IndexOf(_items, item);
                    if (index >= 0)
                        _items = [.. _items[..index], .. _items[(index + 1)..]];
                }
            });
        }
    }
}
