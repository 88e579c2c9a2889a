using Microsoft.Extensions.Logging;
using SpectralAlign.Guard;
using SpectralAlign.Guard.LearningRate;
using SpectralAlign.Guard.Snapshots;
using SpectralAlign.Telemetry;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace SpectralAlign;

/// <summary>
/// Keeps a training run alive: takes in-memory snapshots of the model and optimizer while training is healthy, and when
/// the monitor alerts, the loss is not finite, the loss spikes or you call <see cref="Trip"/>, rolls the run back to a
/// snapshot from before the trouble began, backs the learning rate off (bringing it back gradually) and, if configured,
/// corrects the spectrum of the alerting layers.
/// </summary>
/// <remarks>
/// <para>
/// The loop: create the monitor, watch the layers, create the guard, then once per optimizer step call
/// <c>guard.Step(loss)</c> after <c>optimizer.step()</c>. The guard steps the monitor itself (with the loss as a run
/// signal): do not also call <see cref="SpectralMonitor.Step()"/>.
/// </para>
/// <code>
/// using var monitor = new SpectralMonitor();
/// monitor.WatchAll(model);
/// using var guard = new TrainingGuard(monitor, model, optimizer);
/// for (int step = 0; step &lt; steps; step++)
/// {
///     using var scope = torch.NewDisposeScope();
///     optimizer.zero_grad();
///     var loss = criterion(model.call(x), y);
///     loss.backward();
///     optimizer.step();
///     guard.Step(loss.item&lt;float&gt;());
/// }
/// </code>
/// <para>
/// Learning rate: the guard's back-off multiplies every parameter group's learning rate (through
/// <see cref="optim.Optimizer.ParamGroups"/>, as TorchSharp's schedulers do) by the new factor over the old one whenever
/// its factor <see cref="LearningRateScale"/> changes. A loop that never sets the learning rate needs nothing more. A
/// loop that sets it itself every step multiplies its value by <see cref="LearningRateScale"/>. TorchSharp's chainable
/// schedulers (StepLR, MultiStepLR, ExponentialLR, MultiplicativeLR), which multiply the rate in force, compose with the
/// back-off as they are. Schedulers that compute the rate from the initial one (LambdaLR, CosineAnnealingLR, OneCycleLR,
/// …) overwrite it: after their <c>step()</c>, multiply each group's rate by <see cref="LearningRateScale"/>, as a loop
/// that sets the rate does. A rollback restores moments and step counts but keeps every group's current learning rate.
/// </para>
/// <para>
/// Guarantees: a guard that never acts (no trigger, no schedule) only reads the model and optimizer, so training is
/// bit-identical to an unguarded run; a rollback is all or nothing (a failure midway puts the previous state back);
/// exceptions of <see cref="Intervened"/> and <see cref="Exhausted"/> handlers are caught and logged; a non-finite loss
/// is a trigger, a disposed monitor is logged once and the guard goes on with the loss alone. <see cref="Step"/>,
/// <see cref="SaveState(Stream)"/>, <see cref="LoadState(Stream)"/> and <see cref="Dispose"/> belong to the training
/// thread; <see cref="Trip"/> may be called from any thread.
/// </para>
/// </remarks>
public sealed partial class TrainingGuard : IDisposable
{
    private readonly SpectralMonitor _monitor;
    private readonly OptimizerHelper _optimizer;
    private readonly TrainingGuardOptions _options;
    private readonly ILogger _logger;
    private readonly MonitorLayerAccess _layers;
    private readonly SnapshotKeeper _snapshots;
    private readonly LearningRateRecovery _learningRate;
    private readonly GuardCorrections _corrections;
    private readonly TriggerInbox _triggers;
    private readonly InterventionPolicy _policy;
    private long _step;
    private bool _monitorGone;
    private bool _disposed;

    /// <summary>Creates a guard for one training run.</summary>
    /// <param name="monitor">The monitor watching the model's layers; the guard subscribes to its alerts and steps it.
    /// The guard does not dispose it.</param>
    /// <param name="model">The model: every <c>state_dict()</c> entry (parameters and persistent buffers) is
    /// snapshotted.</param>
    /// <param name="optimizer">The optimizer: an <see cref="OptimizerHelper"/> (SGD, Adam, AdamW, …) whose state
    /// TorchSharp can save and load.</param>
    /// <param name="options">Settings; <c>null</c> for the defaults. Validated and copied.</param>
    /// <param name="logger">Receives interventions as warnings and failures as errors; <c>null</c> for none.</param>
    /// <exception cref="ArgumentNullException">A required argument is null.</exception>
    /// <exception cref="ArgumentException">The options are invalid; the message lists every problem.</exception>
    /// <exception cref="NotSupportedException">The optimizer keeps its state in native code (e.g. LBFGS).</exception>
    /// <exception cref="ObjectDisposedException">The monitor has been disposed.</exception>
    public TrainingGuard(SpectralMonitor monitor, nn.Module model, optim.Optimizer optimizer, TrainingGuardOptions? options = null, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(monitor);
        ArgumentNullException.ThrowIfNull(model);
        _optimizer = OptimizerStateIO.Require(optimizer, nameof(optimizer));
        var copy = (options ?? new TrainingGuardOptions()).Clone();
        OptionProblems.ThrowIfAny(copy.Validate(), nameof(TrainingGuardOptions), nameof(options));
        ObjectDisposedException.ThrowIf(monitor.IsDisposed, monitor);
        _monitor = monitor;
        _options = copy;
        _logger = SafeLogger.Wrap(logger);
        _layers = new MonitorLayerAccess(monitor, model);
        _snapshots = new SnapshotKeeper(model, _optimizer, copy, _logger);
        _learningRate = new LearningRateRecovery(optimizer, _logger);
        _triggers = new TriggerInbox(copy);
        _policy = new InterventionPolicy(copy);
        _corrections = new GuardCorrections(_layers, model, _optimizer, copy, _logger);
        _step = monitor.CurrentStep;
        monitor.CollapseDetected += OnAlert;
    }

    /// <summary>Raised after every intervention, on the thread that calls <see cref="Step"/>. An exception thrown by a
    /// handler is caught and logged.</summary>
    public event EventHandler<GuardIntervention>? Intervened;

    /// <summary>Raised once, when a trigger arrives after <see cref="TrainingGuardOptions.MaxInterventions"/>
    /// interventions: the guard stops intervening. An exception thrown by a handler is caught and logged.</summary>
    public event EventHandler<GuardIntervention>? Exhausted;

    /// <summary>The learning-rate factor in force (1 when none). A loop that sets the learning rate itself multiplies
    /// its value by this.</summary>
    public double LearningRateScale => _learningRate.Scale;

    /// <summary>Interventions made so far.</summary>
    public int Interventions => _policy.Interventions;

    /// <summary>A copy of the options in effect.</summary>
    public TrainingGuardOptions Options => _options.Clone();

    /// <summary>Snapshots held (for tests and benchmarks).</summary>
    internal int SnapshotCount => _snapshots.Count;

    /// <summary>Bytes held by the snapshots (for tests and benchmarks).</summary>
    internal long SnapshotBytes => _snapshots.Bytes;

    /// <summary>The steps of the snapshots held, oldest first (for tests).</summary>
    internal IReadOnlyList<long> SnapshotSteps => _snapshots.Steps;

    /// <summary>Test seam: called before each tensor of a rollback is written (see <see cref="SnapshotRestorer"/>).</summary>
    internal Action<string>? RestoreFault { get => _snapshots.RestoreFault; set => _snapshots.RestoreFault = value; }

    /// <summary>
    /// Call once per optimizer step, after <c>optimizer.step()</c>: steps the monitor with <paramref name="loss"/>,
    /// acts on any trigger, applies a scheduled correction when one is due, takes a snapshot when one is due and sets the
    /// learning-rate factor for the next step.
    /// </summary>
    /// <param name="loss">The step's training loss (NaN or infinity is a trigger).</param>
    /// <returns>What the guard did.</returns>
    /// <exception cref="ObjectDisposedException">The guard has been disposed.</exception>
    public GuardAction Step(double loss)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        long step = _step;
        StepMonitor(step, loss);
        var action = GuardAction.Continue;
        try
        {
            var triggers = _triggers.Collect(step, loss);
            if (triggers.Count > 0)
                action = OnTriggers(step, triggers);
            else
                _policy.Quiet(step);
            _corrections.RunSchedule(step);
            if (_policy.EpisodeStart is null && double.IsFinite(loss) && (step % _options.SnapshotInterval == 0 || _snapshots.Count == 0))
                _snapshots.Take(step);
            _learningRate.Update(step + 1);
        }
#pragma warning disable CA1031 // The guard must never stop the training loop it protects.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            Log.GuardFailed(_logger, step, action.ToString(), ex);
        }

        _step = step + 1;
        return action;
    }

    /// <summary>Makes the guard act at its next <see cref="Step"/>, as if an alert had fired (subject to the cooldown
    /// and <see cref="TrainingGuardOptions.MaxInterventions"/>). May be called from any thread.</summary>
    /// <param name="reason">Why, for the intervention record and the log.</param>
    /// <exception cref="ArgumentException"><paramref name="reason"/> is empty.</exception>
    /// <exception cref="ObjectDisposedException">The guard has been disposed.</exception>
    public void Trip(string reason)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(reason);
        ObjectDisposedException.ThrowIf(_disposed, this);
        _triggers.Trip(reason, Interlocked.Read(ref _step));
    }

    /// <summary>Unsubscribes from the monitor and releases every snapshot. Idempotent. Does not dispose the monitor, the
    /// model or the optimizer; a learning-rate factor in force stays in the optimizer.</summary>
    public void Dispose()
    {
        if (_disposed)
            return;
        _disposed = true;
        _monitor.CollapseDetected -= OnAlert;
        _snapshots.Dispose();
    }

    /// <summary>Calls each handler in turn; an exception is logged and never reaches the loop or the other handlers.</summary>
    private void Raise(EventHandler<GuardIntervention>? handlers, GuardIntervention args, string eventName)
    {
        foreach (var handler in handlers?.GetInvocationList() ?? [])
        {
            try
            {
                ((EventHandler<GuardIntervention>)handler)(this, args);
            }
#pragma warning disable CA1031 // A handler's exception must never reach the training loop.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                Log.GuardHandlerFailed(_logger, eventName, ex);
            }
        }
    }

    private void OnAlert(object? sender, CollapseAlert alert) => _triggers.Alert(alert);

    private void StepMonitor(long step, double loss)
    {
        if (_monitorGone)
            return;
        try
        {
            if (!_monitor.IsDisposed)
            {
                _monitor.Step(new TrainingSignals(loss));
                return;
            }
        }
        catch (ObjectDisposedException)
        {
        }
#pragma warning disable CA1031 // The monitor promises not to throw; if it does, the guard still must not stop training.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            Log.GuardMonitorFailed(_logger, step, ex);
            return;
        }

        _monitorGone = true;
        Log.GuardMonitorDisposed(_logger, step);
    }

    private GuardAction OnTriggers(long step, List<GuardTrigger> triggers)
    {
        switch (_policy.Decide(step, triggers))
        {
            case TriggerDecision.CoolingDown:
                foreach (var t in triggers)
                    Log.GuardTriggerIgnored(_logger, t.Reason, t.Layer, step, _policy.LastIntervention);
                return GuardAction.Continue;
            case TriggerDecision.Exhausted:
                return OnExhausted(step, triggers);
            case TriggerDecision.StillExhausted:
                return GuardAction.Exhausted;
            default:
                return Intervene(step, triggers, _policy.EpisodeStart!.Value);
        }
    }

    private GuardAction OnExhausted(long step, List<GuardTrigger> triggers)
    {
        Log.GuardExhausted(_logger, _options.MaxInterventions, step, string.Join(", ", triggers.Select(t => $"{t.Reason}@{t.Layer}")));
        var record = new GuardIntervention
        {
            Number = Interventions,
            Step = step,
            Action = GuardAction.Exhausted,
            Triggers = triggers,
            EpisodeStartStep = _policy.EpisodeStart ?? step,
            LearningRateScale = _learningRate.Scale,
            Problem = $"the guard has made its {_options.MaxInterventions} interventions",
        };
        GuardTelemetry.Intervened(GuardAction.Exhausted, _logger);
        Raise(Exhausted, record, nameof(Exhausted));
        return GuardAction.Exhausted;
    }

    private GuardAction Intervene(long step, List<GuardTrigger> triggers, long episodeStart)
    {
        var target = _snapshots.FindRollbackTarget(episodeStart, out bool marginMet);
        long? restored = null;
        string? problem = null;
        if (_options.Rollback)
        {
            if (target is null)
            {
                problem = $"no snapshot older than the episode's start (step {episodeStart}) to roll back to";
                Log.GuardNoSnapshot(_logger, episodeStart, step);
            }
            else
            {
                (bool done, problem) = _snapshots.RollBack(step, target, marginMet);
                restored = done ? target.Step : null;
            }
        }

        _triggers.ForgetLosses();
        if (_options.LearningRateFactor < 1)
            _learningRate.BackOff(step + 1, _options);
        var corrections = _corrections.OnIntervention(step, triggers, target);
        _policy.Intervened(step);
        var action = restored is null ? GuardAction.Adjusted : GuardAction.RolledBack;
        var record = new GuardIntervention
        {
            Number = Interventions,
            Step = step,
            Action = action,
            Triggers = triggers,
            EpisodeStartStep = episodeStart,
            RestoredSnapshotStep = restored,
            LearningRateScale = _learningRate.Scale,
            Corrections = corrections,
            Problem = problem,
        };
        Log.GuardIntervened(_logger, Interventions, step, record);
        GuardTelemetry.Intervened(action, _logger);
        Raise(Intervened, record, nameof(Intervened));
        return action;
    }
}
