using SpectralAlign.Monitoring;
using static TorchSharp.torch;

namespace SpectralAlign;

/// <summary>
/// The handle of one watched module, returned by the <c>Watch</c> methods and <see cref="SpectralMonitor.WatchAll"/>.
/// A module is measured as one or more layers (<see cref="Layers"/>): one for a Linear or a convolution, four
/// (<c>.q</c>, <c>.k</c>, <c>.v</c>, <c>.out</c>) for a MultiheadAttention, one per slice for
/// <see cref="SpectralMonitor.WatchSlices"/>. Disposing the handle removes the module's hooks at once and forgets its
/// layers; training continues unaffected. Disposing the monitor disposes every handle.
/// </summary>
public sealed class LayerWatch : IDisposable
{
    private readonly SpectralMonitor _monitor;
    private readonly WatchEntry _entry;
    private volatile bool _disposed;

    internal LayerWatch(SpectralMonitor monitor, WatchEntry entry)
    {
        _monitor = monitor;
        _entry = entry;
    }

    /// <summary>The name the module is watched under (for a single-layer module, its measured name).</summary>
    public string Name => _entry.Layers.Length == 1 ? _entry.Layers[0].Name : CommonName();

    /// <summary>The names of the measured layers of this module, as they appear in measurements and alerts.</summary>
    public IReadOnlyList<string> Layers => _entry.Layers.Select(l => l.Name).ToArray();

    /// <summary>The watched module.</summary>
    public nn.Module Module => _entry.Adapter.Module;

    /// <summary>Input width n of the first measured layer's matrix (length of its v1).</summary>
    public int InFeatures => _entry.Layers[0].View.InFeatures;

    /// <summary>Output width of the first measured layer's weight (all groups).</summary>
    public int OutFeatures => _entry.Layers[0].View.OutFeatures * _entry.Layers[0].View.Groups;

    /// <summary>Number of groups of the first measured layer (1 except for grouped convolutions).</summary>
    public int Groups => _entry.Layers[0].View.Groups;

    /// <summary>The most recent measurement of the first measured layer, or <c>null</c> before the first. With
    /// <see cref="SpectralMonitorOptions.MeasureInBackground"/> it waits for a measurement still running, so it is the
    /// measurement of the last measured <see cref="SpectralMonitor.Step()"/>, as in the foreground (whose events come
    /// with the next <see cref="SpectralMonitor.Step()"/> or <see cref="SpectralMonitor.Flush"/>).</summary>
    public LayerMeasurement? LastMeasurement => _monitor.LastMeasurement(_entry.Layers[0]);

    /// <summary>Whether this watch (or its monitor) has been disposed.</summary>
    public bool IsDisposed => _disposed;

    /// <summary>The most recent measurement of one of this module's layers (waiting, as <see cref="LastMeasurement"/>
    /// does, for a measurement still running in the background).</summary>
    /// <param name="layer">One of <see cref="Layers"/>.</param>
    /// <returns>The measurement, or <c>null</c> before the first.</returns>
    /// <exception cref="ArgumentException"><paramref name="layer"/> is not one of <see cref="Layers"/>.</exception>
    public LayerMeasurement? GetLastMeasurement(string layer) => _monitor.LastMeasurement(Find(layer));

    /// <summary>
    /// A copy of a layer's current principal input direction v1 (unit length, float32, on the weight's device), with
    /// the sign convention the monitor keeps between steps; <c>null</c> before the first measurement. For a grouped
    /// convolution the result is (groups, n), one v1 per group. The caller owns (and disposes) the tensor.
    /// </summary>
    /// <param name="layer">One of <see cref="Layers"/>; <c>null</c> for the first.</param>
    /// <returns>The vector, or <c>null</c>.</returns>
    /// <exception cref="ObjectDisposedException">The watch has been disposed.</exception>
    /// <exception cref="ArgumentException"><paramref name="layer"/> is not one of <see cref="Layers"/>.</exception>
    public Tensor? CopySingularVector(string? layer = null)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return _monitor.CopySingularVector(layer is null ? _entry.Layers[0] : Find(layer));
    }

    /// <summary>Removes the hooks and forgets the layers. Idempotent.</summary>
    public void Dispose()
    {
        if (_disposed)
            return;
        _disposed = true;
        _monitor.Unwatch(_entry);
    }

    /// <inheritdoc />
    public override string ToString() => $"{Name} ({_entry.Adapter.Kind}: {string.Join(", ", Layers)})";

    internal void MarkDisposed() => _disposed = true;

    private Hooks.WatchedLayer Find(string layer) =>
        _entry.Layers.FirstOrDefault(l => l.Name == layer)
        ?? throw new ArgumentException($"'{layer}' is not a layer of this watch; its layers are: {string.Join(", ", Layers)}.", nameof(layer));

    private string CommonName()
    {
        string first = _entry.Layers[0].Name;
        int dot = first.LastIndexOf('.');
        return dot > 0 ? first[..dot] : first;
    }
}
