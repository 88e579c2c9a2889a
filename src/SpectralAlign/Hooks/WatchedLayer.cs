using SpectralAlign.Spectral;

namespace SpectralAlign.Hooks;

/// <summary>The monitor's internal record of one watched layer: adapter, hook, captured rows and spectral state.</summary>
internal sealed class WatchedLayer(string name, LayerAdapter adapter, InputCapture capture, long watchedSinceStep) : IDisposable
{
    private long _lastCallStep = -1;

    public string Name { get; } = name;

    public LayerAdapter Adapter { get; } = adapter;

    public InputCapture Capture { get; } = capture;

    public SpectralState Spectral { get; } = new();

    public IDisposable? Hook { get; set; }

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

    /// <summary>The public handle of this layer.</summary>
    public LayerWatch? Handle { get; set; }

    public void Dispose()
    {
        Hook?.Dispose();
        Hook = null;
        Capture.Dispose();
        Spectral.Dispose();
    }
}
