using SpectralAlign.Detection;
using SpectralAlign.Hooks;
using SpectralAlign.Spectral;
using SpectralAlign.Telemetry;
using static TorchSharp.torch;

namespace SpectralAlign.Monitoring;

/// <summary>
/// The work of one <see cref="SpectralMonitor.Step()"/> under the monitor's lock: on measured steps, hand the
/// captured rows and weights to the engine and its measurements to the detector; on every step, the run-level
/// signals to the detector and the watchdog's check. Never throws: every failure is recorded in the
/// <see cref="StepOutcome"/> for the publisher, so the step counter always advances and training goes on.
/// </summary>
internal sealed class StepRunner(WatchRegistry registry, CaptureScheduler scheduler, SpectralEngine engine, CollapseDetector detector)
{
    public StepOutcome Run(long step, TrainingSignals signals, bool keepCaptures)
    {
        var outcome = new StepOutcome(step);
        var layers = registry.Layers;
        if (scheduler.IsMeasuredStep(step) && layers.Length > 0)
            Measure(outcome, layers, keepCaptures);
        if (signals.Loss is not null || signals.GradientNorm is not null)
            Detect(outcome, CollapseAlert.RunLayer, () => detector.ObserveSignals(step, signals));
        outcome.SilentHooks = scheduler.FindSilentHooks(layers, step);
        return outcome;
    }

    private void Measure(StepOutcome outcome, WatchedLayer[] layers, bool keepCaptures)
    {
        outcome.Measured = true;
        var profile = engine.Profile;
        var measurable = new List<WatchedLayer>(layers.Length);
        foreach (var layer in layers)
        {
            if (HasWeight(layer))
            {
                measurable.Add(layer);
                continue;
            }

            outcome.MissingWeights.Add(layer.Name);
            layer.Capture.Take().Rows?.Dispose();
        }

        try
        {
            outcome.Measurements = measurable.Count > 0
                ? engine.Measure(outcome.Step, measurable, keepCaptures ? record => outcome.Captures.Add(Keep(record)) : null)
                : [];
        }
#pragma warning disable CA1031 // A failure of the monitor must never stop training.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            outcome.MeasurementFailure = ex;
            outcome.Measurements = [];
        }

        long start = profile is null ? 0 : CostProfile.Now;
        for (int i = 0; i < outcome.Measurements.Length; i++)
        {
            var m = outcome.Measurements[i];
            measurable[i].LastMeasurement = m;
            Detect(outcome, m.Layer, () => detector.Observe(m));
        }

        profile?.Add(CostProfile.Phase.Detector, start);
        profile?.CountMeasuredStep();
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

    /// <summary>Whether the layer's module still has a matching weight (the view is released at once, also when
    /// <see cref="SpectralMonitor.Step()"/> runs outside a dispose scope).</summary>
    private static bool HasWeight(WatchedLayer layer)
    {
        using var scope = NewDisposeScope();
        return layer.View.CurrentWeight() is not null;
    }

    /// <summary>A capture record that outlives the engine's call: the rows copied (the engine releases its own), the
    /// weight as a new view of the live parameter.</summary>
    private static CaptureRecord Keep(CaptureRecord record)
    {
        using var scope = NewDisposeScope();
        return new CaptureRecord
        {
            Step = record.Step,
            Layer = record.Layer,
            Groups = record.Groups,
            Rows = record.Rows?.detach().clone().DetachFromDisposeScope(),
            InputRows = record.InputRows,
            Weight = record.Weight.detach().DetachFromDisposeScope(),
        };
    }
}
