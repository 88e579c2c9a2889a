using System.Diagnostics.CodeAnalysis;
using Microsoft.Extensions.Logging;
using SpectralAlign.Detection;
using SpectralAlign.Hooks;
using SpectralAlign.Monitoring;
using SpectralAlign.Spectral;
using SpectralAlign.State;
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
/// Shape: this class only composes small parts — a watch registry (<c>Monitoring/WatchRegistry</c>), the capture
/// scheduler that owns the step counter and receives what the hooks see (<c>Monitoring/CaptureScheduler</c>), the
/// engine (<c>Spectral/</c>), the detector (<c>Detection/</c>), the step runner that drives them under the lock
/// (<c>Monitoring/StepRunner</c>), the publisher that alone raises events, calls sinks and logs
/// (<c>Telemetry/StepPublisher</c>), and the state serializer (<c>State/</c>).
/// </para>
/// <para>
/// Threading: <see cref="Measured"/>, <see cref="CollapseDetected"/> and the sinks run synchronously on the thread
/// that calls <see cref="Step()"/>, after the monitor's internal lock is released (handlers may call back into the
/// monitor, even dispose it). An exception thrown by a handler or sink is caught and logged; training continues.
/// <see cref="Step()"/>, <see cref="Flush"/>, event subscription, the state methods, <see cref="LayerWatch"/>'s members
/// and <see cref="Dispose"/> may be called from any thread, also at the same time; they are serialised.
/// Publication has its own order: each step is published whole (capture sinks, events, sinks, log, metrics), never
/// inside or beside another step's publication, and in step order (the order in which <see cref="Step()"/> calls
/// took their step numbers), also when <see cref="Step()"/> and <see cref="Flush"/> calls overlap on several threads
/// or come from a handler. A call that finds a publication under way — on another thread, or further up its own
/// stack — leaves its step to that publication, which publishes it right after the step it is publishing, and returns
/// without waiting for it (so a handler may wait for another thread that calls <see cref="Step()"/>); only then may
/// a step's events run on another caller's thread, after the call that concluded it has returned. Hooks disposed
/// from a thread other than the one running forward passes become inert at once and remove themselves at their next
/// call (TorchSharp's hook table is not thread-safe).
/// <see cref="Watch(nn.Module, string)"/> registers a hook, so call it when no forward pass is running on another
/// thread.
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
    private readonly object _gate = new();
    private readonly WatchRegistry _registry;
    private readonly CaptureScheduler _scheduler;
    private readonly SpectralEngine _engine;
    private readonly CollapseDetector _detector;
    private readonly StepRunner _runner;
    private readonly StepPublisher _publisher;
    private readonly PublicationQueue _publications;
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
        _publisher = new StepPublisher(this, SafeLogger.Wrap(logger), SpectralTelemetry.For(_options.MeterFactory), [.. _options.MetricTags]);
        _registry = new WatchRegistry(_options.MaxSamplesPerLayer, _options.Seed);
        _scheduler = new CaptureScheduler(_options.Interval, _options.SilentHookSteps, _publisher);
        _engine = new SpectralEngine(_options.ToEngineSettings());
        _detector = new CollapseDetector(_options.Detection);
        _runner = new StepRunner(_registry, _scheduler, _engine, _detector, _options.MeasureInBackground);
        _publications = new PublicationQueue(Publish);
    }

    /// <summary>Raised for every measured layer on every measured step, in the order the layers were watched.
    /// Raised on the thread that calls <see cref="Step()"/>.</summary>
    public event EventHandler<LayerMeasurement>? Measured
    {
        add => _publisher.Measured += value;
        remove => _publisher.Measured -= value;
    }

    /// <summary>Raised when a detection rule opens an alert episode for a layer, or a layer shows non-finite values.
    /// Raised on the thread that calls <see cref="Step()"/>, after all <see cref="Measured"/> events of the step.</summary>
    public event EventHandler<CollapseAlert>? CollapseDetected
    {
        add => _publisher.CollapseDetected += value;
        remove => _publisher.CollapseDetected -= value;
    }

    /// <summary>Number of completed <see cref="Step()"/> calls; the step the next forward pass belongs to.</summary>
    public long CurrentStep => _scheduler.CurrentStep;

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
                return _registry.Handles;
        }
    }

    /// <summary>Whether the forward pass of <paramref name="step"/> is captured and measured.</summary>
    /// <param name="step">A step number.</param>
    /// <returns><c>true</c> on every <see cref="SpectralMonitorOptions.Interval"/>-th step.</returns>
    public bool IsMeasuredStep(long step) => _scheduler.IsMeasuredStep(step);

    /// <summary>When set, accumulates where the monitor's time goes (benchmarks); <c>null</c> by default.</summary>
    internal CostProfile? Profile
    {
        get => _engine.Profile;
        set => _engine.Profile = _scheduler.Profile = _publisher.Profile = value;
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
    public LayerWatch Watch(nn.Module layer, string name) => Register([WatchRegistry.Adapt(layer, name)])[0];

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
        WatchRegistry.CheckName(name);
        return Register([LayerAdapters.WithSelectors(layer, name, weight, input)])[0];
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
        WatchRegistry.CheckName(name);
        return Register([LayerAdapters.WithSlices(layer, name, slices)])[0];
    }

    /// <summary>
    /// Watches every module of <paramref name="model"/> (found recursively through <c>named_modules()</c> — nested
    /// Sequential, ModuleList, ModuleDict and custom modules — and named by its path, e.g. <c>blocks.0.attn.q</c>)
    /// that this monitor can watch and that <paramref name="filter"/> accepts. <see cref="LayerFilter"/> has
    /// ready-made filters by name pattern and type. Unless <see cref="SpectralMonitorOptions.AutoLink"/> is off, it also
    /// links (<see cref="Link"/>) consecutive selected Linears of a <c>Sequential</c> that are separated only by
    /// element-wise, parameter-free modules (activations, dropout); these links last as long as the watches.
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
        var adapters = WatchRegistry.Select(model, filter ?? LayerFilter.Linear);
        var watches = Register(adapters);
        if (_options.AutoLink)
        {
            var links = SequentialLinks.Find(model, adapters);
            lock (_gate)
            {
                if (!_disposed)
                    _registry.AutoLink(links);
            }
        }

        return watches;
    }

    /// <summary>
    /// Declares that the output of the measured layer <paramref name="upstream"/> feeds the measured layer
    /// <paramref name="downstream"/> (directly, or through element-wise operations), so that
    /// <paramref name="downstream"/>'s measurements report <see cref="LayerMeasurement.UpstreamAlignment"/>
    /// |cos(u1 of <paramref name="upstream"/>, v1 of <paramref name="downstream"/>)|: e.g. a transformer FFN's up → down
    /// projection, or attention's value → output projection. <see cref="WatchAll"/> links consecutive Linears of a
    /// <c>Sequential</c> by itself (see <see cref="SpectralMonitorOptions.AutoLink"/>). A layer has at most one
    /// upstream layer; a layer may feed several. Links are forgotten when either layer is unwatched.
    /// </summary>
    /// <param name="upstream">The name of the measured layer whose output is the input of <paramref name="downstream"/>
    /// (a name from <see cref="LayerWatch.Layers"/>).</param>
    /// <param name="downstream">The name of the measured layer fed by <paramref name="upstream"/>.</param>
    /// <returns>A handle; disposing it removes the link.</returns>
    /// <exception cref="ArgumentNullException">A name is null.</exception>
    /// <exception cref="ArgumentException">A name is not a watched layer, the two are the same layer, or the shapes do
    /// not fit: the output width of <paramref name="upstream"/> must equal the input width of
    /// <paramref name="downstream"/>, and both must have the same number of groups (the message lists every
    /// problem).</exception>
    /// <exception cref="InvalidOperationException"><paramref name="downstream"/> already has an upstream layer.</exception>
    /// <exception cref="ObjectDisposedException">The monitor has been disposed.</exception>
    public IDisposable Link(string upstream, string downstream)
    {
        ArgumentNullException.ThrowIfNull(upstream);
        ArgumentNullException.ThrowIfNull(downstream);
        object link;
        lock (_gate)
        {
            ThrowIfDisposed();
            _registry.Links.Check(_registry.Find(upstream), _registry.Find(downstream), upstream, downstream);
            link = _registry.Links.Add(upstream, downstream);
        }

        return new Registration(() =>
        {
            lock (_gate)
                _registry.Links.Remove(downstream, link);
        });
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
        ThrowIfDisposed();
        return _publisher.AddSink(sink);
    }

    /// <summary>
    /// Registers a sink that receives each watched layer's subsampled input rows and weight on every measured step
    /// (offline analysis). Called on the thread that calls <see cref="Step()"/>, after the step's measurement and
    /// outside the monitor's lock, before the <see cref="Measured"/> events; exceptions are caught and logged.
    /// </summary>
    /// <param name="sink">The sink. The monitor does not dispose it.</param>
    /// <returns>A handle; disposing it unregisters the sink.</returns>
    /// <exception cref="ObjectDisposedException">The monitor has been disposed.</exception>
    public IDisposable AddCaptureSink(ICaptureSink sink)
    {
        ThrowIfDisposed();
        return _publisher.AddCaptureSink(sink);
    }

    /// <summary>
    /// Advances the step counter; on measured steps, measures every watched layer, runs detection, raises
    /// <see cref="Measured"/> and <see cref="CollapseDetected"/> and feeds the sinks. Call once per optimizer step,
    /// after <c>optimizer.step()</c>. Problems with the data (NaN, zero rows, missing inputs) become flags and alerts,
    /// never exceptions. Thread-safe: calls from several threads take consecutive step numbers and are published in
    /// that order; one that overlaps a publication in progress (another thread's, or a handler's own) returns at once
    /// and its step is published by that publication, right after the step it is publishing (see the class remarks).
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
        lock (_gate)
        {
            ThrowIfDisposed();
            long step = _scheduler.CurrentStep;
            _runner.Finish();
            _publications.Add(_runner.TakeFinished());   // queued under the lock: in step order whatever the threads
            StepOutcome? outcome;
            try
            {
                outcome = _runner.Run(step, signals, _publisher.HasCaptureSinks);
            }
            finally
            {
                _scheduler.Complete(step);   // whatever happened, the next Step() is the next step
            }

            _publications.Add(outcome);
        }

        _publications.Drain();
    }

    /// <summary>
    /// With <see cref="SpectralMonitorOptions.MeasureInBackground"/>: waits for the measurement still running in the
    /// background, if any, and publishes it now, on the calling thread (<see cref="Measured"/>,
    /// <see cref="CollapseDetected"/>, sinks, log), instead of at the next <see cref="Step()"/>. Call it after the last
    /// step of a run, before <see cref="Dispose"/> or <see cref="LoadState(Stream)"/>, which drop a measurement not yet
    /// published. Does nothing when no measurement is pending (always so in the foreground). When a publication is
    /// already under way — called from a handler of this monitor's own events, or while another thread publishes — it
    /// waits for the measurement only and returns: that publication publishes it right after the step it is
    /// publishing, so that steps are never published inside one another nor out of order.
    /// </summary>
    /// <exception cref="ObjectDisposedException">The monitor has been disposed.</exception>
    public void Flush()
    {
        lock (_gate)
        {
            ThrowIfDisposed();
            _runner.Finish();
            _publications.Add(_runner.TakeFinished());
        }

        _publications.Drain();
    }

    /// <summary>
    /// Writes the monitor's state — step counter, every layer's warm-start basis (so v1 keeps its sign), and the
    /// detector's warm-up progress, baselines and alert episodes — as one UTF-8 JSON document. Save it with your
    /// training checkpoint; <see cref="LoadState(Stream)"/> resumes exactly where the run stopped.
    /// </summary>
    /// <param name="stream">A writable stream; left open.</param>
    /// <exception cref="ObjectDisposedException">The monitor has been disposed.</exception>
    public void SaveState(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        MonitorStateDocument document;
        lock (_gate)
        {
            ThrowIfDisposed();
            _runner.Finish();   // a background measurement's results belong to the state (published at the next Step())
            document = MonitorStateSerializer.Capture(_scheduler.CurrentStep, _options.Seed, _registry.Layers, _detector.SaveState());
        }

        MonitorStateSerializer.Write(stream, document);
    }

    /// <summary>Writes the monitor's state to a file (see <see cref="SaveState(Stream)"/>).</summary>
    /// <param name="path">The file; overwritten.</param>
    public void SaveState(string path)
    {
        using var file = File.Create(path);
        SaveState(file);
    }

    /// <summary>
    /// Restores a state written by <see cref="SaveState(Stream)"/>. Call it after watching the same layers (matched by
    /// name) and before the first <see cref="Step()"/> of the resumed run. A layer whose shape changed, or that the
    /// state does not know, starts cold; a rule whose detector cannot restore its state starts afresh; each such case
    /// is returned and logged. With <see cref="SpectralMonitorOptions.MeasureInBackground"/>, a measurement not yet
    /// published is waited for and dropped (it belongs to the run being replaced); in both modes, so are the input rows
    /// the hooks captured before the call. The watches' <see cref="LayerWatch.LastMeasurement"/> is <c>null</c>
    /// afterwards, in both modes, until the restored run's first measured step: the state holds no measurement, and
    /// those taken before belong to the replaced run. The whole state is read and validated first: when it is refused,
    /// nothing was dropped or changed.
    /// </summary>
    /// <param name="stream">A readable stream holding the state.</param>
    /// <returns>What could not be restored; empty when everything was.</returns>
    /// <exception cref="InvalidDataException">The stream does not hold a monitor state this version can read; the
    /// monitor is unchanged.</exception>
    /// <exception cref="ObjectDisposedException">The monitor has been disposed.</exception>
    public IReadOnlyList<string> LoadState(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        // Everything is read and validated before anything is dropped or changed: a bad state leaves the monitor as it was.
        var document = MonitorStateSerializer.Read(stream);
        var detectorState = CollapseDetector.ReadState(document.Detector);
        List<string> problems;
        lock (_gate)
        {
            ThrowIfDisposed();
            _runner.Finish();
            _runner.TakeFinished()?.Dispose();   // measured before the restored state: never published
            _registry.ForgetMeasurements();      // nor reported: the watches show the restored run's measurements only
            _registry.DiscardCaptures();         // nor measured: rows forwarded before belong to the replaced run
            var detectorProblems = _detector.RestoreState(detectorState);
            problems = MonitorStateSerializer.Restore(document, _registry.Layers);
            problems.AddRange(detectorProblems);
            _scheduler.Restore(document.Step!.Value);
        }

        _publisher.StateNotRestored(problems);
        return problems;
    }

    /// <summary>Restores a state from a file (see <see cref="LoadState(Stream)"/>).</summary>
    /// <param name="path">The file.</param>
    /// <returns>What could not be restored; empty when everything was.</returns>
    public IReadOnlyList<string> LoadState(string path)
    {
        using var file = File.OpenRead(path);
        return LoadState(file);
    }

    /// <summary>Removes every hook and releases the monitor's tensors. Idempotent; training can continue. With
    /// <see cref="SpectralMonitorOptions.MeasureInBackground"/>, a measurement not yet published is waited for and dropped:
    /// call <see cref="Flush"/> first to publish it. Steps not yet published are dropped too (a handler that calls
    /// <see cref="Step()"/> and then disposes): from now on no event is raised and no sink is called, except for the rest
    /// of a step whose publication is already under way.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed)
                return;
            _disposed = true;
            _runner.Finish();   // the background measurement reads the layers' states: wait for it, publish nothing
            _runner.TakeFinished()?.Dispose();
            _publications.Discard();   // steps queued behind a publication under way (a handler's Step()) are not published
            _scheduler.Stop();
            _registry.Clear();
            _engine.Dispose();
        }
    }

    /// <summary>
    /// The guard's view of a watched layer: its current weight as a (G, m, n) tensor — a view of the live parameter,
    /// never a copy; the caller disposes this handle (or creates it inside a dispose scope), which does not free the
    /// parameter — and its <see cref="SpectralState"/> (warm basis, σ1 of the last measurement), owned by the monitor.
    /// Call it on the thread that calls <see cref="Step()"/>: the state changes during a measured step.
    /// </summary>
    /// <param name="layer">A measured layer's name.</param>
    /// <param name="weight">The weight view, or <c>null</c> when the layer is unknown or its module has no such
    /// weight any more.</param>
    /// <param name="state">The layer's spectral state.</param>
    /// <returns>Whether the layer is watched and has a weight.</returns>
    internal bool TryGetLayer(string layer, [NotNullWhen(true)] out Tensor? weight, [NotNullWhen(true)] out SpectralState? state)
    {
        lock (_gate)
        {
            weight = null;
            state = null;
            if (_disposed || _registry.Find(layer) is not { } watched)
                return false;
            _runner.Finish();
            weight = watched.View.CurrentWeight();
            state = watched.Spectral;
            return weight is not null;
        }
    }

    internal void Unwatch(WatchEntry watch)
    {
        lock (_gate)
        {
            _runner.Finish();
            if (!_registry.Remove(watch))
                return;
            foreach (var layer in watch.Layers)
                _detector.Reset(layer.Name);
        }
    }

    /// <summary>A layer's most recent measurement, after a background measurement in flight has been concluded (as the
    /// foreground has it after the same <see cref="Step()"/>).</summary>
    internal LayerMeasurement? LastMeasurement(WatchedLayer layer)
    {
        lock (_gate)
        {
            _runner.Finish();
            return layer.LastMeasurement;
        }
    }

    internal Tensor? CopySingularVector(WatchedLayer layer)
    {
        lock (_gate)
        {
            _runner.Finish();
            return WatchRegistry.CopySingularVector(layer);
        }
    }

    /// <summary>Registers adapters all or nothing: every module and name is checked before the first hook is
    /// attached, and if attaching one adapter's hooks throws, the watches added so far are removed (their hooks
    /// with them) before the exception propagates.</summary>
    internal LayerWatch[] Register(List<LayerAdapter> adapters)
    {
        var entries = new WatchEntry[adapters.Count];
        lock (_gate)
        {
            ThrowIfDisposed();
            _runner.Finish();
            _registry.CheckCanAdd(adapters);
            int added = 0;
            try
            {
                for (; added < adapters.Count; added++)
                {
                    entries[added] = _registry.Add(this, adapters[added], _scheduler.CurrentStep);
                    entries[added].Hooks = adapters[added].Attach(_scheduler.ReceiverFor(entries[added]));
                }
            }
            catch
            {
                // entries[added] is the failing one: added before its Attach threw (no hooks), or null if Add threw.
                for (int i = added; i >= 0; i--)
                {
                    if (entries[i] is { } entry)
                        _registry.Remove(entry);
                }

                throw;
            }
        }

        _publisher.Watching(entries.SelectMany(e => e.Layers));
        return [.. entries.Select(e => e.Handle)];
    }

    /// <summary>Publishes one step and releases what it holds (called by <see cref="PublicationQueue"/>, one step at a
    /// time); once the monitor is disposed, only releases it: a disposed monitor raises no events and feeds no sinks.</summary>
    private void Publish(StepOutcome outcome)
    {
        using (outcome)
        {
            if (!_disposed)
                _publisher.Publish(outcome);
        }
    }

    private void ThrowIfDisposed()
    {
        if (_disposed)
            throw new ObjectDisposedException(nameof(SpectralMonitor), "This SpectralMonitor has been disposed: its hooks are removed and it measures nothing. Stop calling it (check IsDisposed), or create a new monitor.");
    }
}
