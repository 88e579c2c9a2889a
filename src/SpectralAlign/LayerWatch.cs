using SpectralAlign.Hooks;
using static TorchSharp.torch;

namespace SpectralAlign;

/// <summary>
/// The handle of one watched layer, returned by <see cref="SpectralMonitor.Watch"/> and
/// <see cref="SpectralMonitor.WatchAll"/>. Disposing it removes the layer's hook at once and forgets the layer;
/// training continues unaffected. Disposing the monitor disposes every handle.
/// </summary>
public sealed class LayerWatch : IDisposable
{
    private readonly SpectralMonitor _monitor;
    private readonly WatchedLayer _layer;
    private volatile bool _disposed;

    internal LayerWatch(SpectralMonitor monitor, WatchedLayer layer)
    {
        _monitor = monitor;
        _layer = layer;
    }

    /// <summary>The name the layer is watched under.</summary>
    public string Name => _layer.Name;

    /// <summary>The watched module.</summary>
    public nn.Module Module => _layer.Adapter.Module;

    /// <summary>Input width n of the weight (length of v1).</summary>
    public int InFeatures => _layer.Adapter.InFeatures;

    /// <summary>Output width m of the weight.</summary>
    public int OutFeatures => _layer.Adapter.OutFeatures;

    /// <summary>The most recent measurement of this layer, or <c>null</c> before the first.</summary>
    public LayerMeasurement? LastMeasurement => _layer.LastMeasurement;

    /// <summary>
    /// A copy of the layer's current principal input direction v1 (unit length, float32, on the weight's device),
    /// with the sign convention the monitor keeps between steps; <c>null</c> before the first measurement. The caller
    /// owns (and disposes) the tensor.
    /// </summary>
    /// <returns>The vector, of length <see cref="InFeatures"/>, or <c>null</c>.</returns>
    /// <exception cref="ObjectDisposedException">The watch has been disposed.</exception>
    public Tensor? CopySingularVector()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return _monitor.CopySingularVector(_layer);
    }

    /// <summary>Whether this watch (or its monitor) has been disposed.</summary>
    public bool IsDisposed => _disposed;

    /// <summary>Removes the hook and forgets the layer. Idempotent.</summary>
    public void Dispose()
    {
        if (_disposed)
            return;
        _disposed = true;
        _monitor.Unwatch(_layer);
    }

    /// <inheritdoc />
    public override string ToString() => $"{Name} ({_layer.Adapter.Kind} {OutFeatures}x{InFeatures})";

    internal void MarkDisposed() => _disposed = true;
}
