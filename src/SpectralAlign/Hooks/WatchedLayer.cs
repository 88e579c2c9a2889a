using SpectralAlign.Spectral;

namespace SpectralAlign.Hooks;

/// <summary>The monitor's internal record of one measured view: what it measures, its captured rows, its spectral
/// state and its bookkeeping.</summary>
internal sealed class WatchedLayer(LayerView view, InputCapture capture, long watchedSinceStep) : IDisposable
{
    private long _lastCallStep = -1;

    public string Name => View.Name;

    public LayerView View { get; } = view;

    public InputCapture Capture { get; } = capture;

    public SpectralState Spectral { get; } = new();

    public long WatchedSinceStep { get; } = watchedSinceStep;

    /// <summary>Last step on which the hook fired (any mode); -1 if never.</summary>
    public long LastCallStep
    {
        get => Interlocked.Read(ref _lastCallStep);
        set => Interlocked.Exchange(ref _lastCallStep, value);
    }

    public bool SilenceWarned { get; set; }

    public int InputMismatchWarned;

    public LayerMeasurement? LastMeasurement { get; set; }

    /// <summary>Hands over the rows captured since the last call with the current weight as the engine's input
    /// (the caller disposes <see cref="LayerInput.Rows"/>; the weight view belongs to the caller's dispose scope), or
    /// <c>null</c> (rows released) when the module has no such weight any more. The rows are released also when looking
    /// the weight up throws. When recovering the rows fails (e.g. solving through an attention output weight that has
    /// turned NaN), the input has no rows, so the weight is still measured (its finiteness and spectrum), and
    /// <paramref name="rowsFailure"/> says why.</summary>
    public LayerInput? TakeInput(out Exception? rowsFailure)
    {
        rowsFailure = null;
        TorchSharp.torch.Tensor? rows;
        long seen;
        try
        {
            (rows, seen) = Capture.Take();
        }
#pragma warning disable CA1031 // Reported by the caller; the layer is measured without rows.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            (rows, seen, rowsFailure) = (null, 0, ex);
        }

        try
        {
            if (View.CurrentWeight() is { } weight)
                return new LayerInput(Name, weight, rows, seen, Spectral);
        }
        catch
        {
            rows?.Dispose();
            throw;
        }

        rows?.Dispose();
        return null;
    }

    public void Dispose()
    {
        Capture.Dispose();
        Spectral.Dispose();
    }
}
