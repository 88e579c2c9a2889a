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
/// Usage: create one monitor, <see cref="Watch(nn.Module, string)"/> the layers of interest (or
/// <see cref="WatchAll"/>), subscribe to <see cref="CollapseDetected"/> and <see cref="Measured"/>, and call
/// <see cref="Step()"/> once per optimizer step, after <c>optimizer.step()</c>. Layers must be invoked with
/// <c>module.call(x)</c>: TorchSharp runs hooks only there.
/// </para>
/// <para>
/// Data path: on measured steps (every <see cref="SpectralMonitorOptions.Interval"/>-th) forward hooks copy a
/// uniform subsample of each watched layer's input rows (training mode only; eval-mode calls are ignored).
/// <see cref="Step()"/> then computes, on each weight's own device, v1 (top right singular vector of the torch weight,
/// i.e. the principal input direction) by warm-started subspace iteration, the SA distribution and its statistics,
/// reads the results back to the host once, runs the detection rules, raises the events and feeds the sinks.
/// </para>
/// <para>
/// Threading: <see cref="Measured"/>, <see cref="CollapseDetected"/> and the sinks run synchronously on the thread
/// that calls <see cref="Step()"/>, after the monitor's internal lock is released (handlers may call back into the
/// monitor, even dispose it). An exception thrown by a handler or sink is caught and logged; training continues.
/// <see cref="Step()"/>, event subscription, <see cref="LayerWatch.Dispose"/> and <see cref="Dispose"/> may be called
/// from any thread; they are serialised. Hooks disposed from a thread other than the one running forward passes
/// become inert at once and remove themselves at their next call (TorchSharp's hook table is not thread-safe).
/// <see cref="Watch(nn.Module, string)"/> registers a hook, so call it when no forward pass is running on another
/// thread.
/// </para>
/// <para>
/// Gradient accumulation: the subsample of a measured step is filled from the layer's training-mode calls in call
/// order until <see cref="SpectralMonitorOptions.MaxSamplesPerLayer"/> rows are held, so with micro-batches of at
/// least that many rows it comes from the first micro-batch. The weight is the one after the optimizer step.
/// </para>
/// </remarks>
public sealed partial class SpectralMonitor : IDisposable
{
    private readonly SpectralMonitorOptions _options;
    private readonly ILogger _logger;
    private readonly object _gate = new();
    private readonly List<WatchEntry> _watches = [];
    private readonly List<ISpectralSink> _sinks = [];
    private readonly List<ICaptureSink> _captureSinks = [];
    private readonly SpectralEngine _engine;
    private readonly CollapseDetector _detector;
    private WatchedLayer[] _layers = [];
    private long _step;
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

    /// <summary>Raised for every measured layer on every measured step, in the order the layers were watched.
    /// Raised on the thread that calls <see cref="Step()"/>.</summary>
    public event EventHandler<LayerMeasurement>? Measured;

    /// <summary>Raised when a detection rule opens an alert episode for a layer, or a layer shows non-finite values.
    /// Raised on the thread that calls <see cref="Step()"/>, after all <see cref="Measured"/> events of the step.</summary>
    public event EventHandler<CollapseAlert>? CollapseDetected;

    /// <summary>Number of completed <see cref="Step()"/> calls; the step the next forward pass belongs to.</summary>
    public long CurrentStep => Interlocked.Read(ref _step);

    /// <summary>Whether the monitor has been disposed. A training loop whose monitor may be disposed from another
    /// thread checks this before <see cref="Step()"/> (and still catches <see cref="ObjectDisposedException"/> for the
    /// race between the check and the call).</summary>
    public bool IsDisposed => _disposed;

    /// <summary>A copy of the options in effect.</summary>
    public SpectralMonitorOptions Options => _options.Clone();

    /// <summary>The current watches, in the order they were made.</summary>
    public IReadOnlyList<LayerWatch> Watches
    {
        get
        {
            lock (_gate)
                return _watches.Select(w => w.Handle).ToArray();
        }
    }

    /// <summary>Whether the forward pass of <paramref name="step"/> is captured and measured.</summary>
    /// <param name="step">A step number.</param>
    /// <returns><c>true</c> on every <see cref="SpectralMonitorOptions.Interval"/>-th step.</returns>
    public bool IsMeasuredStep(long step) => step >= 0 && step % _options.Interval == 0;

    /// <summary>Device-to-host result transfers performed so far (for tests and benchmarks).</summary>
    internal long HostReadbacks => _engine.HostReadbacks;

    /// <summary>When set, accumulates where the monitor's time goes (benchmarks); <c>null</c> by default.</summary>
    internal CostProfile? Profile
    {
        get => _engine.Profile;
        set => _engine.Profile = value;
    }

    /// <summary>
    /// Watches one module, measured under <paramref name="name"/>:
    /// <list type="bullet">
    /// <item><c>Linear</c>, or any single-tensor module with a 2-D parameter <c>weight</c> (out × in) applied as x·Wᵀ
    /// to the last dimension of its input;</item>
    /// <item><c>Conv1d</c> / <c>Conv2d</c>: the weight read as (out/groups) × (in/groups·Πkernel) per group, the
    /// samples being the input patches the kernel sees;</item>
    /// <item><c>MultiheadAttention</c>: four measured layers <c>name.q</c>, <c>name.k</c>, <c>name.v</c> (the packed
    /// input projections, each with its own input) and <c>name.out</c> (the output projection).</item>
    /// </list>
    /// </summary>
    /// <param name="layer">The module.</param>
    /// <param name="name">A unique name, used in events, logs and metrics.</param>
    /// <returns>A handle; disposing it removes the hooks and forgets the layer.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="layer"/> or <paramref name="name"/> is null.</exception>
    /// <exception cref="ArgumentException">The module cannot be watched (the message says why and what can), or the
    /// name is empty.</exception>
    /// <exception cref="InvalidOperationException">The module or a resulting name is already watched.</exception>
    /// <exception cref="ObjectDisposedException">The monitor has been disposed.</exception>
    public LayerWatch Watch(nn.Module layer, string name)
    {
        ArgumentNullException.ThrowIfNull(layer);
        CheckName(name);
        if (!LayerAdapters.TryCreate(layer, name, out var adapter, out var problem))
        {
            throw new ArgumentException(
                $"Cannot watch '{name}' ({layer.GetType().Name}): {problem}. Watchable: Linear, Conv1d, Conv2d, MultiheadAttention, any single-tensor module with a 2-D 'weight' applied as x·Wᵀ, and any module through the Watch overload with a weight selector.",
                nameof(layer));
        }

        return Register(adapter!);
    }

    /// <summary>
    /// Watches a single-tensor module whose weight matrix and input rows you choose: e.g. an LM head that multiplies
    /// by the (tied) embedding matrix, <c>Watch(head, "lm_head", () =&gt; embedding.weight)</c>.
    /// </summary>
    /// <param name="layer">The module whose calls are hooked.</param>
    /// <param name="name">A unique name.</param>
    /// <param name="weight">Returns the 2-D weight W (out × in) the module applies as x·Wᵀ; called at every
    /// measurement, so it may return a replaced parameter.</param>
    /// <param name="input">Maps the module's input to the tensor whose last dimension holds the rows multiplied by
    /// Wᵀ; <c>null</c> for the input itself.</param>
    /// <returns>A handle; disposing it removes the hook.</returns>
    /// <exception cref="ArgumentException">The module does not take a single tensor, or the selector does not return
    /// a 2-D tensor.</exception>
    /// <exception cref="InvalidOperationException">The module or name is already watched.</exception>
    /// <exception cref="ObjectDisposedException">The monitor has been disposed.</exception>
    public LayerWatch Watch(nn.Module layer, string name, Func<Tensor> weight, Func<Tensor, Tensor>? input = null)
    {
        ArgumentNullException.ThrowIfNull(layer);
        ArgumentNullException.ThrowIfNull(weight);
        CheckName(name);
        return Register(LayerAdapters.WithSelectors(layer, name, weight, input));
    }

    /// <summary>
    /// Watches row ranges of a module's weight as separate layers named <c>{name}.{slice}</c>, all fed by the module's
    /// input: e.g. a fused qkv projection, <c>WatchSlices(qkv, "attn", new("q", 0, d), new("k", d, d), new("v", 2*d, d))</c>.
    /// </summary>
    /// <param name="layer">A Linear or single-tensor module with a 2-D weight.</param>
    /// <param name="name">The common prefix of the slices' names.</param>
    /// <param name="slices">The row ranges; non-empty, distinct names, inside the weight.</param>
    /// <returns>One handle for all slices.</returns>
    /// <exception cref="ArgumentException">The module cannot be sliced or a slice is invalid (every problem is
    /// listed).</exception>
    /// <exception cref="InvalidOperationException">The module or a name is already watched.</exception>
    /// <exception cref="ObjectDisposedException">The monitor has been disposed.</exception>
    public LayerWatch WatchSlices(nn.Module layer, string name, params WeightSlice[] slices)
    {
        ArgumentNullException.ThrowIfNull(layer);
        ArgumentNullException.ThrowIfNull(slices);
        CheckName(name);
        return Register(LayerAdapters.WithSlices(layer, name, slices));
    }

    /// <summary>
    /// Watches every module of <paramref name="model"/> (found recursively through <c>named_modules()</c> — nested
    /// Sequential, ModuleList, ModuleDict and custom modules — and named by its path, e.g. <c>blocks.0.attn.q</c>)
    /// that this monitor can watch and that <paramref name="filter"/> accepts. <see cref="LayerFilter"/> has
    /// ready-made filters by name pattern and type.
    /// </summary>
    /// <param name="model">The model.</param>
    /// <param name="filter">Chooses among the watchable modules by path and module; <c>null</c> for every
    /// <see cref="Linear"/>.</param>
    /// <returns>The new watches, in module order. Nothing is registered if any selected module is already
    /// watched.</returns>
    /// <exception cref="InvalidOperationException">A selected module or name is already watched.</exception>
    /// <exception cref="ObjectDisposedException">The monitor has been disposed.</exception>
    public IReadOnlyList<LayerWatch> WatchAll(nn.Module model, Func<string, nn.Module, bool>? filter = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        filter ??= LayerFilter.Linear;
        var selected = new List<LayerAdapter>();
        foreach (var (path, module) in EnumerateModules(model))
        {
            if (selected.Any(s => ReferenceEquals(s.Module, module)) || !LayerAdapters.TryCreate(module, path, out var adapter, out _) || !filter(path, module))
                continue;
            selected.Add(adapter!);
        }

        lock (_gate)
        {
            ThrowIfDisposed();
            var names = new HashSet<string>(StringComparer.Ordinal);
            foreach (var adapter in selected)
            {
                CheckNotWatched(adapter);
                foreach (var view in adapter.Views)
                {
                    if (!names.Add(view.Name))
                        throw new InvalidOperationException($"Two selected modules would both be measured as '{view.Name}'; watch one of them separately under another name.");
                }
            }

            return selected.Select(RegisterLocked).ToArray();
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
    public IDisposable AddSink(ISpectralSink sink) => AddTo(_sinks, sink);

    /// <summary>
    /// Registers a sink that receives each watched layer's subsampled input rows and weight on every measured step,
    /// before measurement (offline analysis). Called inside <see cref="Step()"/>; exceptions are caught and logged.
    /// </summary>
    /// <param name="sink">The sink. The monitor does not dispose it.</param>
    /// <returns>A handle; disposing it unregisters the sink.</returns>
    /// <exception cref="ObjectDisposedException">The monitor has been disposed.</exception>
    public IDisposable AddCaptureSink(ICaptureSink sink) => AddTo(_captureSinks, sink);

    /// <summary>
    /// Advances the step counter; on measured steps, measures every watched layer, runs detection, raises
    /// <see cref="Measured"/> and <see cref="CollapseDetected"/> and feeds the sinks. Call once per optimizer step,
    /// after <c>optimizer.step()</c>. Problems with the data (NaN, zero rows, missing inputs) become flags and alerts,
    /// never exceptions.
    /// </summary>
    /// <exception cref="ObjectDisposedException">The monitor has been disposed.</exception>
    public void Step() => Step(default);

    /// <summary>
    /// <see cref="Step()"/> with the step's run-level signals (loss, gradient norm) for run-level detection rules
    /// (<see cref="RunRule"/>s in <see cref="DetectionOptions.Rules"/>); they are judged on every step, measured or not.
    /// </summary>
    /// <param name="signals">The step's loss and/or gradient norm.</param>
    /// <exception cref="ObjectDisposedException">The monitor has been disposed.</exception>
    public void Step(TrainingSignals signals)
    {
        LayerMeasurement[] measurements = [];
        List<CollapseAlert> alerts = NoAlerts;
        ISpectralSink[] sinks = [];
        var profile = _engine.Profile;
        long step;
        lock (_gate)
        {
            ThrowIfDisposed();
            step = _step;
            if (IsMeasuredStep(step) && _layers.Length > 0)
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

                long detectorStart = profile is null ? 0 : CostProfile.Now;
                for (int i = 0; i < measurements.Length; i++)
                {
                    var m = measurements[i];
                    measurable[i].LastMeasurement = m;
                    if ((m.Conditions & MeasurementConditions.NotConverged) != 0)
                        Log.NotConverged(_logger, m.Layer, step, m.Iterations, m.Residual);
                }

                AddAlerts(ref alerts, _detector.ObserveStep(step, measurements, signals));
                profile?.Add(CostProfile.Phase.Detector, detectorStart);
                profile?.CountMeasuredStep();
            }
            else if (signals.Loss is not null || signals.GradientNorm is not null)
            {
                AddAlerts(ref alerts, _detector.ObserveSignals(step, signals));
            }

            foreach (var fault in _detector.TakeFaults())
                Log.RuleFailed(_logger, fault.Reason, fault.Subject, fault.Step, fault.Exception);
            WarnAboutSilentHooks(step);
            Interlocked.Exchange(ref _step, step + 1);
            if (measurements.Length > 0 || alerts.Count > 0)
                sinks = [.. _sinks];
        }

        long eventsStart = profile is null ? 0 : CostProfile.Now;
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

        if (measurements.Length > 0)
            profile?.Add(CostProfile.Phase.Events, eventsStart);
    }

    /// <summary>Shared empty alert list of steps without alerts (never modified; <see cref="AddAlerts"/> replaces it).</summary>
    private static readonly List<CollapseAlert> NoAlerts = [];

    private static void AddAlerts(ref List<CollapseAlert> alerts, IReadOnlyList<CollapseAlert> more)
    {
        if (more.Count == 0)
            return;
        if (ReferenceEquals(alerts, NoAlerts))
            alerts = [];
        alerts.AddRange(more);
    }

    /// <summary>Removes every hook and releases the monitor's tensors. Idempotent; training can continue.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed)
                return;
            _disposed = true;
            foreach (var watch in _watches)
                watch.Close();
            _watches.Clear();
            _layers = [];
            _engine.Dispose();
        }
    }

    /// <summary>Watches a replay stand-in whose input is a saved (G, rows, n) stack and whose weight is a saved
    /// (G, m, n) stack (offline analysis).</summary>
    internal LayerWatch WatchReplay(nn.Module<Tensor, Tensor> layer, string name, int groups, int outFeatures, int inFeatures, Func<Tensor?> weight)
    {
        CheckName(name);
        return Register(new ReplayAdapter(layer, name, groups, outFeatures, inFeatures, weight));
    }

    internal void Unwatch(WatchEntry watch)
    {
        lock (_gate)
        {
            if (!_watches.Remove(watch))
                return;
            foreach (var layer in watch.Layers)
                _detector.Reset(layer.Name);
            watch.Close();
            _layers = [.. _watches.SelectMany(w => w.Layers)];
        }
    }

    internal Tensor? CopySingularVector(WatchedLayer layer)
    {
        lock (_gate)
        {
            if (layer.Spectral.Basis is not { } basis)
                return null;
            using var noGrad = no_grad();
            var v = basis.select(2, 0);
            return (layer.View.Groups == 1 ? v.squeeze(0) : v).clone();
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

    private Registration AddTo<T>(List<T> list, T item)
        where T : class
    {
        ArgumentNullException.ThrowIfNull(item);
        lock (_gate)
        {
            ThrowIfDisposed();
            list.Add(item);
        }

        return new Registration(() =>
        {
            lock (_gate)
                list.Remove(item);
        });
    }

    private static void CheckName(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (string.IsNullOrWhiteSpace(name))
            throw new ArgumentException("A watched layer needs a non-empty name (it labels events, logs and metrics).", nameof(name));
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

    private bool HasWeight(WatchedLayer layer)
    {
        if (layer.View.CurrentWeight() is not null)
            return true;
        Log.WeightMissing(_logger, layer.Name);
        layer.Capture.Take().Rows?.Dispose();
        return false;
    }

    private void CheckNotWatched(LayerAdapter adapter)
    {
        foreach (var existing in _watches)
        {
            if (ReferenceEquals(existing.Adapter.Module, adapter.Module))
            {
                throw new InvalidOperationException(
                    $"This module is already watched as '{existing.Handle.Name}'. Dispose that LayerWatch first if you want to watch it under another name.");
            }

            foreach (var view in adapter.Views)
            {
                if (existing.Layers.Any(l => l.Name == view.Name))
                    throw new InvalidOperationException($"The name '{view.Name}' is already used by another watched layer; names must be unique.");
            }
        }
    }

    private LayerWatch Register(LayerAdapter adapter)
    {
        lock (_gate)
        {
            ThrowIfDisposed();
            CheckNotWatched(adapter);
            return RegisterLocked(adapter);
        }
    }

    private LayerWatch RegisterLocked(LayerAdapter adapter)
    {
        long now = Interlocked.Read(ref _step);
        var layers = adapter.Views
            .Select(view => new WatchedLayer(view, new InputCapture(view.Name, _options.MaxSamplesPerLayer, _options.Seed), now))
            .ToArray();
        var watch = new WatchEntry(this, adapter, layers);
        watch.Hooks = adapter.Attach(watch);
        _watches.Add(watch);
        _layers = [.. _layers, .. layers];
        foreach (var view in adapter.Views)
            Log.Watching(_logger, view.Name, view.Kind, view.OutFeatures * view.Groups, view.InFeatures);
        return watch.Handle;
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

    private void ThrowIfDisposed()
    {
        if (_disposed)
            throw new ObjectDisposedException(nameof(SpectralMonitor), "This SpectralMonitor has been disposed: its hooks are removed and it measures nothing. Stop calling it (check IsDisposed), or create a new monitor.");
    }

    /// <summary>One watch: the adapter, its hooks, its measured layers and its public handle. Receives what the
    /// hooks see.</summary>
    internal sealed class WatchEntry : IInputReceiver
    {
        private readonly SpectralMonitor _monitor;

        public WatchEntry(SpectralMonitor monitor, LayerAdapter adapter, WatchedLayer[] layers)
        {
            _monitor = monitor;
            Adapter = adapter;
            Layers = layers;
            Handle = new LayerWatch(monitor, this);
        }

        public LayerAdapter Adapter { get; }

        public WatchedLayer[] Layers { get; }

        public LayerWatch Handle { get; }

        public HookSet? Hooks { get; set; }

        public bool BeginCall(nn.Module module)
        {
            long step = Interlocked.Read(ref _monitor._step);
            foreach (var layer in Layers)
                layer.LastCallStep = step;
            return !_monitor._disposed && _monitor.IsMeasuredStep(step) && module.training;
        }

        public void Deliver(int view, Tensor rows, Func<Tensor, Tensor>? transform = null)
        {
            var profile = _monitor._engine.Profile;
            long start = profile is null ? 0 : CostProfile.Now;
            Layers[view].Capture.Add(Interlocked.Read(ref _monitor._step), rows, transform);
            profile?.Add(CostProfile.Phase.Capture, start);
        }

        public void Reject(int view, Tensor input)
        {
            var layer = Layers[view];
            if (Interlocked.Exchange(ref layer.InputMismatchWarned, 1) == 0)
                Log.UnexpectedInput(_monitor._logger, layer.Name, string.Join(", ", input.shape), input.dtype.ToString(), layer.View.InFeatures);
        }

        public void Fail(Exception exception) =>
            Log.CaptureFailed(_monitor._logger, Handle.Name, Interlocked.Read(ref _monitor._step), exception);

        /// <summary>Makes the hooks inert (removing them when safe) and releases the layers' tensors.</summary>
        public void Close()
        {
            Handle.MarkDisposed();
            Hooks?.Dispose();
            foreach (var layer in Layers)
                layer.Dispose();
        }
    }
}
