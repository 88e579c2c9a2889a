using SpectralAlign.Hooks;

namespace SpectralAlign.Monitoring;

/// <summary>One watch: the adapter, its hooks, its measured layers and its public handle.</summary>
internal sealed class WatchEntry
{
    public WatchEntry(SpectralMonitor monitor, LayerAdapter adapter, WatchedLayer[] layers)
    {
        Adapter = adapter;
        Layers = layers;
        Handle = new LayerWatch(monitor, this);
    }

    public LayerAdapter Adapter { get; }

    public WatchedLayer[] Layers { get; }

    public LayerWatch Handle { get; }

    public HookSet? Hooks { get; set; }

    /// <summary>Makes the hooks inert (removing them when safe) and releases the layers' tensors.</summary>
    public void Close()
    {
        Handle.MarkDisposed();
        Hooks?.Dispose();
        foreach (var layer in Layers)
            layer.Dispose();
    }
}
