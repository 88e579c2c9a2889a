using SpectralAlign.Detection;
using SpectralAlign.Hooks;
using SpectralAlign.Spectral;
using SpectralAlign.Telemetry;
using static TorchSharp.torch;

namespace SpectralAlign.Monitoring;

/// <summary>
/// The work of one <see cref="SpectralMonitor.Step()"/> under the monitor's lock: on measured steps, hand the
/// captured rows and weights to the engine and the step's measurements and signals to the detector (one
/// <see cref="CollapseDetector.ObserveStep"/>, so that cross-layer rules see the whole step); on other steps, the
/// run-level signals; on every step, the watchdog's check. The detector isolates failing rules itself (their faults
/// are passed on to be logged); at the end, the hooks' shared index tensor is released. Never throws: every failure is recorded in the
/// <see cref="StepOutcome"/> for the publisher, so the step counter always advances and training goes on.
/// </summary>
/// <remarks>
/// With <see cref="SpectralMonitorOptions.MeasureInBackground"/>, a measured step only takes the captured rows and a
/// copy of each weight on the caller's thread and hands them to <see cref="BackgroundMeasurement"/>; the engine runs on
/// a thread-pool thread while training goes on, and <see cref="Finish"/> (called first by every later entry point of
/// the monitor) waits for it and runs the detector there, in step order, so that the results are the same as in the
/// foreground. Its outcome is then held for the next <see cref="TakeFinished"/>.
/// </remarks>
internal sealed class StepRunner(WatchRegistry registry, CaptureScheduler scheduler, SpectralEngine engine, CollapseDetector detector, bool background)
{
    private BackgroundMeasurement? _inFlight;
    private StepOutcome? _finished;

    /// <summary>Runs <paramref name="step"/>; returns its outcome to publish now, or <c>null</c> when it is measured in
    /// the background (its outcome comes from <see cref="TakeFinished"/> after <see cref="Finish"/>).</summary>
    public StepOutcome? Run(long step, TrainingSignals signals, bool keepCaptures)
    {
        Finish();
        var outcome = new StepOutcome(step);
        var layers = registry.Layers;
        bool deferred = false;
        if (scheduler.IsMeasuredStep(step) && layers.Length > 0)
            deferred = Measure(outcome, layers, keepCaptures, signals);
        else if (signals.Loss is not null || signals.GradientNorm is not null)
            Detect(outcome, CollapseAlert.RunLayer, () => detector.ObserveSignals(step, signals));
        outcome.SilentHooks = scheduler.FindSilentHooks(layers, step);
        scheduler.ReleaseStepIndex();   // the hooks' shared index tensor lives within a step only
        if (deferred)
            return null;
        outcome.RuleFaults.AddRange(detector.TakeFaults());
        return outcome;
    }

    /// <summary>Waits for the background measurement, if one is in flight, and concludes it (measurements, detector);
    /// its outcome is kept for <see cref="TakeFinished"/>. Does nothing otherwise.</summary>
    public void Finish()
    {
        if (_inFlight is not { } pending)
            return;
        _inFlight = null;
        var outcome = pending.Outcome;
        try
        {
            outcome.Measurements = pending.Wait(engine.Profile);
        }
#pragma warning disable CA1031 // A failure of the monitor must never stop training.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            outcome.MeasurementFailure = ex;
            outcome.Measurements = [];
        }

        Conclude(outcome, pending.Layers, pending.Signals);
        outcome.RuleFaults.AddRange(detector.TakeFaults());
        _finished?.Dispose();   // not reached in practice: each Step() takes the previous one first
        _finished = outcome;
    }

    /// <summary>The outcome of the last finished background measurement, once; <c>null</c> when there is none.</summary>
    public StepOutcome? TakeFinished()
    {
        var outcome = _finished;
        _finished = null;
        return outcome;
    }

    /// <summary>Measures the captured layers, in the foreground or (returning <c>true</c>) in the background.</summary>
    private bool Measure(StepOutcome outcome, WatchedLayer[] layers, bool keepCaptures, TrainingSignals signals)
    {
        outcome.Measured = true;
        var measured = new List<WatchedLayer>(layers.Length);
        try
        {
            outcome.Measurements = MeasureCaptured(outcome, layers, measured, keepCaptures, signals);
            if (_inFlight is not null)
                return true;
        }
#pragma warning disable CA1031 // A failure of the monitor must never stop training.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            outcome.MeasurementFailure = ex;
            outcome.Measurements = [];
        }

        Conclude(outcome, measured, signals);
        return false;
    }

    /// <summary>Hands the measurements to their layers and, with the step's signals, to the detector.</summary>
    private void Conclude(StepOutcome outcome, List<WatchedLayer> measured, TrainingSignals signals)
    {
        var profile = engine.Profile;
        long start = profile is null ? 0 : CostProfile.Now;
        for (int i = 0; i < outcome.Measurements.Length; i++)
            measured[i].LastMeasurement = outcome.Measurements[i];
        Detect(outcome, CollapseAlert.RunLayer, () => detector.ObserveStep(outcome.Step, outcome.Measurements, signals));

        profile?.Add(CostProfile.Phase.Detector, start);
        profile?.CountMeasuredStep();
    }

    /// <summary>Takes every layer's captured rows (all of them, also when something fails, so that no capture carries
    /// over to a later step) with its current weight, keeps them for the capture sinks if asked, measures them and
    /// releases them. A layer whose module no longer has a matching weight is reported in
    /// <see cref="StepOutcome.MissingWeights"/>, one whose input cannot be taken (its weight selector or its row
    /// lookup threw) in <see cref="StepOutcome.LayerFailures"/>, one whose row recovery threw in
    /// <see cref="StepOutcome.RowFailures"/> (it is measured without rows); every other layer is measured all the same and added
    /// to <paramref name="measured"/>, one per returned measurement. In the background, the rows and a
    /// copy of each weight go to a <see cref="BackgroundMeasurement"/> instead (which releases them) and no measurement
    /// is returned yet.</summary>
    private LayerMeasurement[] MeasureCaptured(StepOutcome outcome, WatchedLayer[] layers, List<WatchedLayer> measured, bool keepCaptures, TrainingSignals signals)
    {
        using var scope = NewDisposeScope();
        var inputs = new List<LayerInput>(layers.Length);
        try
        {
            foreach (var layer in layers)
                TakeInput(outcome, layer, inputs, measured);

            if (inputs.Count == 0)
                return [];

            registry.Links.Resolve(inputs);
            if (!background)
            {
                KeepCaptures(outcome, inputs, keepCaptures, copyWeights: true);
                return engine.Measure(outcome.Step, inputs);
            }

            var pending = BackgroundMeasurement.Start(engine, outcome, inputs, measured, signals);
            inputs.Clear();   // the background measurement owns the rows now
            try
            {
                // Published a step later: the records hold the measured step's weight copies, not the live parameters.
                KeepCaptures(outcome, pending.Inputs, keepCaptures, copyWeights: false);
            }
            catch
            {
                pending.Abandon();   // this step is reported as failed now, never again at the next step
                throw;
            }

            _inFlight = pending;
            return [];
        }
        finally
        {
            // Rows handed to a capture record belong to the outcome now (released after the capture sinks).
            foreach (var input in inputs)
            {
                if (!outcome.Captures.Exists(c => ReferenceEquals(c.Rows, input.Rows)))
                    input.Rows?.Dispose();
            }
        }
    }

    /// <summary>Adds <paramref name="layer"/>'s input to <paramref name="inputs"/> (and the layer to
    /// <paramref name="measured"/>), or reports why there is none; a failure is this layer's only (its rows are
    /// released by <see cref="WatchedLayer.TakeInput"/>).</summary>
    private static void TakeInput(StepOutcome outcome, WatchedLayer layer, List<LayerInput> inputs, List<WatchedLayer> measured)
    {
        try
        {
            if (layer.TakeInput(out var rowsFailure) is { } input)
            {
                inputs.Add(input);
                measured.Add(layer);
            }
            else
            {
                outcome.MissingWeights.Add(layer.Name);
            }

            if (rowsFailure is not null)
                outcome.RowFailures.Add((layer.Name, rowsFailure));
        }
#pragma warning disable CA1031 // One layer's failure must neither stop training nor cost the other layers their measurement.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            outcome.LayerFailures.Add((layer.Name, ex));
        }
    }

    private static void KeepCaptures(StepOutcome outcome, IReadOnlyList<LayerInput> inputs, bool keepCaptures, bool copyWeights)
    {
        if (!keepCaptures)
            return;
        foreach (var input in inputs)
            outcome.Captures.Add(Keep(outcome.Step, input, input.Upstream >= 0 ? inputs[input.Upstream].Name : null, copyWeights));
    }

    private static void Detect(StepOutcome outcome, string layer, Func<IReadOnlyList<CollapseAlert>> observe)
    {
        try
        {
            outcome.Alerts.AddRange(observe());
        }
#pragma warning disable CA1031 // A failing rule must never stop training (nor the step counter).
        catch (Exception ex)
#pragma warning restore CA1031
        {
            outcome.DetectionFailures.Add((layer, ex));
        }
    }

    /// <summary>A capture record that outlives the engine's call: it takes over the captured rows (the engine never
    /// writes them) and holds the measured weight — a copy of the live parameter in the foreground
    /// (<paramref name="copyWeight"/>), a view of the measured step's copy in the background — and the name of the
    /// layer it is linked to in this step. The foreground needs its own copy because publication can come after
    /// <see cref="SpectralMonitor.Step()"/> returns (another thread is publishing an earlier step), and the optimizer
    /// changes the parameter in place meanwhile.</summary>
    private static CaptureRecord Keep(long step, LayerInput input, string? upstream, bool copyWeight)
    {
        using var scope = NewDisposeScope();
        return new CaptureRecord
        {
            Step = step,
            Layer = input.Name,
            Groups = input.Groups,
            Rows = input.Rows,
            InputRows = input.SeenRows,
            Weight = (copyWeight ? input.Weight.detach().clone() : input.Weight.detach()).DetachFromDisposeScope(),
            Upstream = upstream,
        };
    }
}
