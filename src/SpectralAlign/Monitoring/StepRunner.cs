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
internal sealed class StepRunner(WatchRegistry registry, CaptureScheduler scheduler, SpectralEngine engine, CollapseDetector detector)
{
    public StepOutcome Run(long step, TrainingSignals signals, bool keepCaptures)
    {
        var outcome = new StepOutcome(step);
        var layers = registry.Layers;
        if (scheduler.IsMeasuredStep(step) && layers.Length > 0)
            Measure(outcome, layers, keepCaptures, signals);
        else if (signals.Loss is not null || signals.GradientNorm is not null)
            Detect(outcome, CollapseAlert.RunLayer, () => detector.ObserveSignals(step, signals));
        outcome.RuleFaults.AddRange(detector.TakeFaults());
        outcome.SilentHooks = scheduler.FindSilentHooks(layers, step);
        scheduler.ReleaseStepIndex();   // the hooks' shared index tensor lives within a step only
        return outcome;
    }

    private void Measure(StepOutcome outcome, WatchedLayer[] layers, bool keepCaptures, TrainingSignals signals)
    {
        outcome.Measured = true;
        var profile = engine.Profile;
        var measured = new List<WatchedLayer>(layers.Length);
        try
        {
            outcome.Measurements = MeasureCaptured(outcome, layers, measured, keepCaptures);
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
            measured[i].LastMeasurement = outcome.Measurements[i];
        Detect(outcome, CollapseAlert.RunLayer, () => detector.ObserveStep(outcome.Step, outcome.Measurements, signals));

        profile?.Add(CostProfile.Phase.Detector, start);
        profile?.CountMeasuredStep();
    }

    /// <summary>Takes every layer's captured rows (all of them, also when something fails, so that no capture carries
    /// over to a later step) with its current weight, keeps them for the capture sinks if asked, measures them and
    /// releases them. A layer whose module no longer has a matching weight is reported in
    /// <see cref="StepOutcome.MissingWeights"/>; the others are added to <paramref name="measured"/>, one per
    /// returned measurement.</summary>
    private LayerMeasurement[] MeasureCaptured(StepOutcome outcome, WatchedLayer[] layers, List<WatchedLayer> measured, bool keepCaptures)
    {
        using var scope = NewDisposeScope();
        var inputs = new List<LayerInput>(layers.Length);
        int next = 0;
        try
        {
            for (; next < layers.Length; next++)
            {
                if (layers[next].TakeInput() is { } input)
                {
                    inputs.Add(input);
                    measured.Add(layers[next]);
                }
                else
                {
                    outcome.MissingWeights.Add(layers[next].Name);
                }
            }

            if (inputs.Count == 0)
                return [];

            if (keepCaptures)
            {
                foreach (var input in inputs)
                    outcome.Captures.Add(Keep(outcome.Step, input));
            }

            registry.Links.Resolve(inputs);
            return engine.Measure(outcome.Step, inputs);
        }
        finally
        {
            // Layers not reached because an earlier one failed: their rows are released, not kept for a later step.
            for (int i = next + 1; i < layers.Length; i++)
                layers[i].Capture.Take().Rows?.Dispose();

            // Rows handed to a capture record belong to the outcome now (released after the capture sinks).
            foreach (var input in inputs)
            {
                if (!outcome.Captures.Exists(c => ReferenceEquals(c.Rows, input.Rows)))
                    input.Rows?.Dispose();
            }
        }
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
    /// writes them) and holds the weight as a new view of the live parameter.</summary>
    private static CaptureRecord Keep(long step, LayerInput input)
    {
        using var scope = NewDisposeScope();
        return new CaptureRecord
        {
            Step = step,
            Layer = input.Name,
            Groups = input.Groups,
            Rows = input.Rows,
            InputRows = input.SeenRows,
            Weight = input.Weight.detach().DetachFromDisposeScope(),
        };
    }
}
