using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using TorchSharp;
using static TorchSharp.torch;

namespace SpectralAlign.Tests.Support;

/// <summary>
/// The one way tests drive a monitor: creates it, records every measurement and alert it publishes (thread-safe, in
/// publication order), feeds layers or trains a small model, and disposes everything it created.
/// </summary>
internal sealed class MonitorHarness : IDisposable
{
    private readonly ConcurrentQueue<LayerMeasurement> _measurements = new();
    private readonly ConcurrentQueue<CollapseAlert> _alerts = new();

    public MonitorHarness(SpectralMonitorOptions? options = null, ILogger? logger = null)
    {
        Monitor = new SpectralMonitor(options, logger);
        Monitor.Measured += (_, m) => _measurements.Enqueue(m);
        Monitor.CollapseDetected += (_, a) => _alerts.Enqueue(a);
    }

    public SpectralMonitor Monitor { get; }

    /// <summary>Every published measurement, in order.</summary>
    public IReadOnlyList<LayerMeasurement> Measurements => [.. _measurements];

    /// <summary>Every published alert, in order.</summary>
    public IReadOnlyList<CollapseAlert> Alerts => [.. _alerts];

    /// <summary>The measurements of one layer, in order.</summary>
    public IReadOnlyList<LayerMeasurement> Of(string layer) => [.. _measurements.Where(m => m.Layer == layer)];

    /// <summary>The latest measurement of one layer; fails the test if the layer was never measured.</summary>
    public LayerMeasurement Last(string layer) =>
        _measurements.LastOrDefault(m => m.Layer == layer) ?? throw new Xunit.Sdk.XunitException($"layer '{layer}' was never measured");

    /// <summary>Calls each layer on its input (training mode, no_grad, in a dispose scope), then
    /// <see cref="SpectralMonitor.Step()"/>; <paramref name="steps"/> times.</summary>
    public void Step(int steps, params (nn.Module<Tensor, Tensor> Layer, Tensor Input)[] calls)
    {
        for (int i = 0; i < steps; i++)
        {
            Forward(calls);
            Monitor.Step();
        }
    }

    /// <summary>Calls each layer on its input, steps the monitor once, and returns what that step published.</summary>
    public (IReadOnlyList<LayerMeasurement> Measurements, IReadOnlyList<CollapseAlert> Alerts) StepOnce(params (nn.Module<Tensor, Tensor> Layer, Tensor Input)[] calls)
    {
        int measurements = _measurements.Count, alerts = _alerts.Count;
        Step(1, calls);
        return ([.. _measurements.Skip(measurements)], [.. _alerts.Skip(alerts)]);
    }

    /// <summary>Calls each layer on its input without stepping the monitor.</summary>
    public static void Forward(params (nn.Module<Tensor, Tensor> Layer, Tensor Input)[] calls)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        foreach (var (layer, input) in calls)
            layer.call(input);
    }

    /// <summary>Trains <paramref name="model"/> on <paramref name="task"/> for <paramref name="steps"/> Adam steps (written-out SGD steps with <paramref name="sgd"/>)
    /// with the monitor watching every Linear (<see cref="Training.Run"/>).</summary>
    public void Train(SmallMlp model, TeacherTask task, int steps, int batch = 64, double lr = 1e-3, Action<int>? beforeStep = null, Action<int, double>? afterStep = null, bool sgd = false)
    {
        if (Monitor.Watches.Count == 0)
            Monitor.WatchAll(model);
        Training.Run(model, task, Monitor, steps, batch, lr, beforeStep, afterStep, sgd);
    }

    public void Dispose() => Monitor.Dispose();
}
