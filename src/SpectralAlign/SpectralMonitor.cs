using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using SpectralAlign.Detection;
using SpectralAlign.Hooks;
using SpectralAlign.Spectral;
using SpectralAlign.Telemetry;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace SpectralAlign;

/// <summary>
/// Watches the spectral alignment of layers during TorchSharp training and warns when a layer's SA distribution
/// collapses to one side, the precursor of loss explosions described by Qiu et al. (2025).
/// </summary>
/// <remarks>
/// <para>
/// Usage: create one monitor, <see cref="Watch"/> the layers of interest (or <see cref="WatchAll"/>), subscribe to
/// <see cref="CollapseDetected"/> and <see cref="Measured"/>, and call <see cref="Step()"/> once per optimizer step,
/// after <c>optimizer.step()</c>. Layers must be invoked with <c>module.call(x)</c>: TorchSharp runs hooks only there.
/// </para>
/// <para>
/// Data path: on measured steps (every <see cref="SpectralMonitorOptions.Interval"/>-th) a forward pre-hook copies a
/// uniform subsample of each layer's input rows (training mode only; eval-mode calls are ignored). <see cref="Step()"/>
/// then computes, on each weight's own device, v1 (top right singular vector of the torch weight, i.e. the principal
/// input direction) by warm-started subspace iteration, the SA distribution and its statistics, reads the results
/// back to the host once, runs the detection rules and raises the events.
/// </para>
/// <para>
/// Threading: <see cref="Measured"/> and <see cref="CollapseDetected"/> are raised synchronously on the thread that
/// calls <see cref="Step()"/>, after the monitor's internal lock is released (handlers may call back into the
/// monitor, even dispose it). An exception thrown by a handler is caught and logged; training continues.
/// <see cref="Step()"/>, <see cref="Watch"/>, <see cref="LayerWatch.Dispose"/> and <see cref="Dispose"/> may be
/// called from different threads; they are serialised.
/// </para>
/// <para>
/// Gradient accumulation: the subsample of a measured step is filled from the layer's training-mode calls in call
/// order until <see cref="SpectralMonitorOptions.MaxSamplesPerLayer"/> rows are held, so with micro-batches of at
/// least that many rows it comes from the first micro-batch. The weight is the one after the optimizer step.
/// </para>
/// </remarks>
public sealed class SpectralMonitor : IDisposable
{
    private readonly SpectralMonitorOptions _options;
    private readonly ILogger _logger;
    private readonly object _gate = new();
    private readonly List<WatchedLayer> _layers = [];
    private readonly List<ISpectralSink> _sinks = [];
    private readonly List<ICaptureSink> _captureSinks = [];
    private readonly SpectralEngine _engine;
    private readonly CollapseDetector _detector;
    private long _step;
    private int _layerOrdinal;
    private volatile bool _disposed;

    /// <summary>Creates a monitor.</summary>
    /// <param name="options">Settings; <c>null</c> for the defaults. Validated and copied.</param>
    /// <param name="logger">Receives alerts as warnings and problems as errors; <c>null</c> for none.</param>
    /// <exception cref="ArgumentException">The options are invalid; the message lists every problem.</exception>
    public SpectralMonitor(SpectralMonitorOptions? options = null, ILogger? logger = null)
    {
        var copy = (options ?? new SpectralMonitorOptions()).Clone();
        copy.ThrowIfInvalid(nameof(options));
        _options = copy;
        _logger = logger ?? NullLogger.Instance;
        _engine = new SpectralEngine(_options);
        _detector = new CollapseDetector(_options.Detection);
    }

    /// <summary>Raised for every watched layer on every measured step, in the order the layers were watched.
    /// Raised on the thread that calls <see cref="Step()"/>.</summary>
    public event EventHandler<LayerMeasurement>? Measured;

    /// <summary>Raised when a detection rule opens an alert episode for a layer, or a layer shows non-finite values.
    /// Raised on the thread that calls <see cref="Step()"/>, after all <see cref="Measured"/> events of the step.</summary>
    public event EventHandler<CollapseAlert>? CollapseDetected;

    /// <summary>Number of completed <see cref="Step()"/> calls; the step the next forward pass belongs to.</summary>
    public long CurrentStep => Interlocked.Read(ref _step);

    /// <summary>A copy of the options in effect.</summary>
    public SpectralMonitorOptions Options => _options.Clone();

    /// <summary>The layers currently watched, in the order they were watched.</summary>
    public IReadOnlyList<LayerWatch> Watches
    {
        get
        {
            lock (_gate)
                return _layers.Select(l => l.Handle!).ToArray();
        }
    }

    /// <summary>Whether the forward pass of <paramref name="step"/> is captured and measured.</summary>
    /// <param name="step">A step number.</param>
    /// <returns><c>true</c> on every <see cref="SpectralMonitorOptions.Interval"/>-th step.</returns>
    public bool IsMeasuredStep(long step) => step >= 0 && step % _options.Interval == 0;

    /// <summary>Device-to-host result transfers performed so far (for tests and benchmarks).</summary>
    internal long HostReadbacks => _engine.HostReadbacks;

    /// <summary>
    /// Watches one layer: a <see cref="Linear"/>, or any single-tensor module with a 2-D parameter named
    /// <c>weight</c> (out × in) that it applies as x·Wᵀ to the last dimension of its input.
    /// </summary>
    /// <param name="layer">The module.</param>
    /// <param name="name">A unique name for the layer, used in events, logs and metrics.</param>
    /// <returns>A handle; disposing it removes the hook and forgets the layer.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="layer"/> or <paramref name="name"/> is null.</exception>
    /// <exception cref="ArgumentException">The module cannot be watched (the message says why), or the name is
    /// empty.</exception>
    /// <exception cref="InvalidOperationException">The layer or the name is already watched by this monitor.</exception>
    /// <exception cref="ObjectDisposedException">The monitor has been disposed.</exception>
    public LayerWatch Watch(nn.Module layer, string name)
    {
        ArgumentNullException.ThrowIfNull(layer);
        ArgumentNullException.ThrowIfNull(name);
        lock (_gate)
        {
            ThrowIfDisposed();
            var adapter = CreateAdapter(layer, name);
            CheckNotWatched(layer, name);
            return Register(adapter, name);
        }
    }

    /// <summary>
    /// Watches every layer of <paramref name="model"/> (found recursively through <c>named_modules()</c> and named by
    /// its path, e.g. <c>blocks.0.attn.q</c>) that this monitor can watch and that <paramref name="filter"/> accepts.
    /// </summary>
    /// <param name="model">The model.</param>
    /// <param name="filter">Chooses among the watchable layers by path and module; <c>null</c> for every
    /// <see cref="Linear"/>.</param>
    /// <returns>The new watches, in module order. Nothing is registered if any selected layer is already
    /// watched.</returns>
    /// <exception cref="InvalidOperationException">A selected layer or name is already watched.</exception>
    /// <exception cref="ObjectDisposedException">The monitor has been disposed.</exception>
    public IReadOnlyList<LayerWatch> WatchAll(nn.Module model, Func<string, nn.Module, bool>? filter = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        filter ??= static (_, module) => module is Linear;
        lock (_gate)
        {
            ThrowIfDisposed();
            var selected = new List<(LayerAdapter Adapter, string Name)>();
            foreach (var (path, module) in EnumerateModules(model))
            {
                if (!LayerAdapter.TryCreate(module, out var adapter, out _) || !filter(path, module))
                    continue;
                CheckNotWatched(module, path);
                if (selected.Any(s => ReferenceEquals(s.Adapter.Module, adapter!.Module)))
                    continue; // the same module reachable under two paths
                selected.Add((adapter!, path));
            }

            return selected.Select(s => Register(s.Adapter, s.Name)).ToArray();
        }
    }

    /// <summary>
    /// Registers a sink that receives every measured step's measurements and alerts after detection (run logs,
    /// dashboards). Sinks are called in registration order on the thread that calls <see cref="Step()"/>, after the
    /// events; an exception thrown by a sink is caught and logged.
    /// </summary>
    /// <param name="sink">The sink. The monitor does not dispose it.</param>
    /// <returns>A handle; disposing it unregisters the sink.</returns>
    /// <exception cref="ObjectDisposedException">The monitor has been disposed.</exception>
    public IDisposable AddSink(ISpectralSink sink)
    {
        ArgumentNullException.ThrowIfNull(sink);
        lock (_gate)
        {
            ThrowIfDisposed();
            _sinks.Add(sink);
        }

        return new Registration(() =>
        {
            lock (_gate)
                _sinks.Remove(sink);
        });
    }

    /// <summary>
    /// Registers a sink that receives each watched layer's subsampled input rows and weight on every measured step,
    /// before measurement (offline analysis). Called inside <see cref="Step()"/>; exceptions are caught and logged.
    /// </summary>
    /// <param name="sink">The sink. The monitor does not dispose it.</param>
    /// <returns>A handle; disposing it unregisters the sink.</returns>
    /// <exception cref="ObjectDisposedException">The monitor has been disposed.</exception>
    public IDisposable AddCaptureSink(ICaptureSink sink)
    {
        ArgumentNullException.ThrowIfNull(sink);
        lock (_gate)
        {
            ThrowIfDisposed();
            _captureSinks.Add(sink);
        }

        return new Registration(() =>
        {
            lock (_gate)
                _captureSinks.Remove(sink);
        });
    }

    /// <summary>
    /// Advances the step counter; on measured steps, measures every watched layer, runs detection and raises
    /// <see cref="Measured"/> and <see cref="CollapseDetected"/>. Call once per optimizer step, after
    /// <c>optimizer.step()</c>. Problems with the data (NaN, zero rows, missing inputs) become flags and alerts,
    /// never exceptions.
    /// </summary>
    /// <exception cref="ObjectDisposedException">The monitor has been disposed.</exception>
    public void Step()
    {
        LayerMeasurement[] measurements = [];
        var alerts = new List<CollapseAlert>();
        ISpectralSink[] sinks = [];
        long step;
        lock (_gate)
        {
            ThrowIfDisposed();
            step = _step;
            if (IsMeasuredStep(step) && _layers.Count > 0)
            {
                var measurable = _layers.Where(HasWeight).ToList();
                try
                {
                    measurements = measurable.Count > 0
                        ? _engine.Measure(step, measurable, _captureSinks.Count > 0 ? OnCapture : null)
                        : [];
                }
#pragma warning disable CA1031 // A failure of the monitor must never stop training.
                catch (Exception ex)
#pragma warning restore CA1031
                {
                    Log.MeasurementFailed(_logger, step, ex);
                    measurements = [];
                }

                for (int i = 0; i < measurements.Length; i++)
                {
                    var m = measurements[i];
                    measurable[i].LastMeasurement = m;
                    if ((m.Conditions & MeasurementConditions.NotConverged) != 0)
                        Log.NotConverged(_logger, m.Layer, step, m.Iterations, m.Residual);
                    alerts.AddRange(_detector.Observe(m));
                }
            }

            WarnAboutSilentHooks(step);
            Interlocked.Exchange(ref _step, step + 1);
            if (measurements.Length > 0)
                sinks = [.. _sinks];
        }

        foreach (var m in measurements)
        {
            Log.Measured(_logger, m);
            EventRaiser.Raise(Measured, this, m, _logger, nameof(Measured));
        }

        foreach (var alert in alerts)
        {
            if (alert.Reason == AlertReasons.NonFinite)
                Log.NonFinite(_logger, alert.Layer, alert.Step, alert.Detail);
            else
                Log.CollapseDetected(_logger, alert.Reason, alert.Layer, alert.Step, alert.EpisodeStartStep, alert.Detail);
            EventRaiser.Raise(CollapseDetected, this, alert, _logger, nameof(CollapseDetected));
        }

        if (sinks.Length > 0)
        {
            var report = new StepReport { Step = step, Measurements = Array.AsReadOnly(measurements), Alerts = alerts.AsReadOnly() };
            foreach (var sink in sinks)
            {
                try
                {
                    sink.OnStep(report);
                }
#pragma warning disable CA1031 // A failing sink must never stop training.
                catch (Exception ex)
#pragma warning restore CA1031
                {
                    Log.SinkFailed(_logger, sink.GetType().Name, step, ex);
                }
            }
        }
    }

    private void OnCapture(CaptureRecord record)
    {
        foreach (var sink in _captureSinks)
        {
            try
            {
                sink.OnCapture(record);
            }
#pragma warning disable CA1031 // A failing sink must never stop training.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                Log.CaptureSinkFailed(_logger, sink.GetType().Name, record.Layer, record.Step, ex);
            }
        }
    }

    /// <summary>Removes every hook and releases the monitor's tensors. Idempotent; training can continue.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed)
                return;
            _disposed = true;
            foreach (var layer in _layers)
            {
                layer.Handle?.MarkDisposed();
                layer.Dispose();
            }

            _layers.Clear();
            _engine.Dispose();
        }
    }

    internal void Unwatch(WatchedLayer layer)
    {
        lock (_gate)
        {
            if (_layers.Remove(layer))
            {
                _detector.Reset(layer.Name);
                layer.Dispose();
            }
        }
    }

    internal Tensor? CopySingularVector(WatchedLayer layer)
    {
        lock (_gate)
        {
            if (layer.Spectral.Basis is not { } basis)
                return null;
            using var noGrad = no_grad();
            return basis.select(1, 0).clone();
        }
    }

    private static IEnumerable<(string Path, nn.Module Module)> EnumerateModules(nn.Module model)
    {
        var seenRoot = false;
        foreach (var (path, module) in model.named_modules())
        {
            if (ReferenceEquals(module, model))
                seenRoot = true;
            yield return (path, module);
        }

        if (!seenRoot)
            yield return ("", model);
    }

    private static LayerAdapter CreateAdapter(nn.Module layer, string name)
    {
        if (string.IsNullOrWhiteSpace(name))
            throw new ArgumentException("A watched layer needs a non-empty name (it labels events, logs and metrics).", nameof(name));
        if (!LayerAdapter.TryCreate(layer, out var adapter, out var problem))
        {
            throw new ArgumentException(
                $"Cannot watch '{name}' ({layer.GetType().Name}): {problem}. Watch a Linear layer, or a module with a 2-D 'weight' applied as x·Wᵀ.",
                nameof(layer));
        }

        return adapter!;
    }

    private bool HasWeight(WatchedLayer layer)
    {
        if (layer.Adapter.CurrentWeight() is { } w && w.dim() == 2 && w.shape[1] == layer.Adapter.InFeatures && w.shape[0] == layer.Adapter.OutFeatures)
            return true;
        Log.WeightMissing(_logger, layer.Name);
        layer.Capture.Take().Rows?.Dispose();
        return false;
    }

    private void CheckNotWatched(nn.Module module, string name)
    {
        foreach (var existing in _layers)
        {
            if (ReferenceEquals(existing.Adapter.Module, module))
            {
                throw new InvalidOperationException(
                    $"This layer is already watched as '{existing.Name}'. Dispose that LayerWatch first if you want to watch it under another name.");
            }

            if (existing.Name == name)
                throw new InvalidOperationException($"The name '{name}' is already used by another watched layer; names must be unique.");
        }
    }

    private LayerWatch Register(LayerAdapter adapter, string name)
    {
        long now = Interlocked.Read(ref _step);
        int seed = HashCode.Combine(_options.Seed, _layerOrdinal++);
        var layer = new WatchedLayer(name, adapter, new InputCapture(_options.MaxSamplesPerLayer, adapter.InFeatures, seed), now);
        layer.Hook = adapter.Attach((module, input) => OnInput(layer, module, input));
        var handle = new LayerWatch(this, layer);
        layer.Handle = handle;
        _layers.Add(layer);
        Log.Watching(_logger, name, adapter.Kind, adapter.OutFeatures, adapter.InFeatures);
        return handle;
    }

    /// <summary>The hook body: returns at once unless this is a measured step in training mode. Never throws.</summary>
    private void OnInput(WatchedLayer layer, nn.Module module, Tensor input)
    {
        long step = Interlocked.Read(ref _step);
        layer.LastCallStep = step;
        if (_disposed || !IsMeasuredStep(step) || !module.training)
            return;
        try
        {
            if (!input.is_floating_point() || input.dim() < 1 || input.shape[^1] != layer.Adapter.InFeatures)
            {
                if (Interlocked.Exchange(ref layer.InputMismatchWarned, 1) == 0)
                    Log.UnexpectedInput(_logger, layer.Name, string.Join(", ", input.shape), input.dtype.ToString(), layer.Adapter.InFeatures);
                return;
            }

            using var noGrad = no_grad();
            layer.Capture.Add(input);
        }
#pragma warning disable CA1031 // An exception escaping a hook would abort the user's forward pass.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            Log.CaptureFailed(_logger, layer.Name, step, ex);
        }
    }

    private void WarnAboutSilentHooks(long step)
    {
        foreach (var layer in _layers)
        {
            long last = Math.Max(layer.LastCallStep, layer.WatchedSinceStep - 1);
            if (last >= step)
            {
                layer.SilenceWarned = false;
                continue;
            }

            long silent = step - last;
            if (silent >= _options.SilentHookSteps && !layer.SilenceWarned)
            {
                layer.SilenceWarned = true;
                Log.HookNotFiring(_logger, layer.Name, silent);
            }
        }
    }

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(_disposed, this);
}
