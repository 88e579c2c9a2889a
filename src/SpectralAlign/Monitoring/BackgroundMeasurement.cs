using SpectralAlign.Detection;
using SpectralAlign.Hooks;
using SpectralAlign.Spectral;
using static TorchSharp.torch;

namespace SpectralAlign.Monitoring;

/// <summary>
/// One measured step on a thread-pool thread (<see cref="SpectralMonitorOptions.MeasureInBackground"/>): the engine's
/// inputs with each weight copied on the training thread — the optimizer changes the live parameter in place before
/// the measurement ends, so the copy is what keeps the result equal to a foreground measurement of the same step —
/// and the rows the hooks captured. Owns both until <see cref="Wait"/>, which releases them whatever happened.
/// </summary>
/// <remarks>
/// The engine sets its own <c>no_grad</c> and dispose scope, which are per thread in libtorch and TorchSharp; the layers'
/// <see cref="SpectralState"/>s are touched only by the engine, and every entry point of the monitor waits for this
/// measurement before it reads or changes them. On a GPU the copies are queued on the device like any other kernel:
/// starting a background measurement never waits for the device; the worker's one read-back does, on the worker.
/// </remarks>
internal sealed class BackgroundMeasurement
{
    private readonly Task<LayerMeasurement[]> _task;
    private readonly List<LayerInput> _inputs;

    private BackgroundMeasurement(Task<LayerMeasurement[]> task, List<LayerInput> inputs, StepOutcome outcome, List<WatchedLayer> layers, TrainingSignals signals)
    {
        _task = task;
        _inputs = inputs;
        Outcome = outcome;
        Layers = layers;
        Signals = signals;
    }

    /// <summary>The engine's inputs: the captured rows with the weight copies (read only until <see cref="Wait"/>).</summary>
    public IReadOnlyList<LayerInput> Inputs => _inputs;

    /// <summary>The step's outcome, filled in when the measurement is concluded.</summary>
    public StepOutcome Outcome { get; }

    /// <summary>The measured layers, one per measurement.</summary>
    public List<WatchedLayer> Layers { get; }

    /// <summary>The step's run-level signals, for the detector.</summary>
    public TrainingSignals Signals { get; }

    /// <summary>Copies the weights and starts measuring <paramref name="inputs"/>, taking over their rows (the
    /// caller keeps those it handed to capture records in <paramref name="outcome"/>).</summary>
    public static BackgroundMeasurement Start(SpectralEngine engine, StepOutcome outcome, List<LayerInput> inputs, List<WatchedLayer> layers, TrainingSignals signals)
    {
        var profile = engine.Profile;
        long start = profile is null ? 0 : CostProfile.Now;
        var copies = new List<LayerInput>(inputs.Count);
        try
        {
            using var noGrad = no_grad();
            foreach (var input in inputs)
            {
                var weight = input.Weight.detach().clone().DetachFromDisposeScope();
                copies.Add(new LayerInput(input.Name, weight, input.Rows, input.SeenRows, input.State) { Upstream = input.Upstream });
            }
        }
        catch
        {
            foreach (var copy in copies)
                copy.Weight.Dispose();
            throw;
        }

        long step = outcome.Step;
        var task = Task.Run(() => engine.Measure(step, copies));
        profile?.Add(CostProfile.Phase.Handoff, start);
        return new BackgroundMeasurement(task, copies, outcome, layers, signals);
    }

    /// <summary>Waits for the measurement and releases what it holds, discarding its result or failure (the step is
    /// reported otherwise).</summary>
    public void Abandon()
    {
        try
        {
            Wait(profile: null);
        }
#pragma warning disable CA1031 // The step's failure is already being reported; this one adds nothing.
        catch (Exception)
#pragma warning restore CA1031
        {
        }
    }

    /// <summary>Waits for the measurements, then releases the weight copies and the rows no capture record
    /// holds.</summary>
    /// <returns>One measurement per input, in order.</returns>
    /// <exception cref="Exception">What the engine threw.</exception>
    public LayerMeasurement[] Wait(CostProfile? profile)
    {
        long start = profile is null ? 0 : CostProfile.Now;
        try
        {
            return _task.GetAwaiter().GetResult();
        }
        finally
        {
            foreach (var input in _inputs)
            {
                input.Weight.Dispose();
                if (!Outcome.Captures.Exists(c => ReferenceEquals(c.Rows, input.Rows)))
                    input.Rows?.Dispose();
            }

            profile?.Add(CostProfile.Phase.Handoff, start);
        }
    }
}
