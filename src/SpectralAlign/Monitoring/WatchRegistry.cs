using SpectralAlign.Hooks;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace SpectralAlign.Monitoring;

/// <summary>
/// The monitor's watches: turns modules into adapters, checks that modules and names are watched once, keeps the
/// measured layers in watch order and forgets them on unwatch. Not thread-safe: the monitor calls it under its lock
/// (the static checks need no lock).
/// </summary>
internal sealed class WatchRegistry(int maxSamplesPerLayer, int seed)
{
    private readonly List<WatchEntry> _watches = [];

    /// <summary>Every measured layer, in watch order (a new array after every change, so it may be enumerated while
    /// the registry changes).</summary>
    public WatchedLayer[] Layers { get; private set; } = [];

    /// <summary>Which measured layer feeds which.</summary>
    public LayerLinks Links { get; } = new();

    public IReadOnlyList<LayerWatch> Handles => _watches.Select(w => w.Handle).ToArray();

    /// <summary>Forgets every layer's last measurement (a loaded state replaces the run they belong to).</summary>
    public void ForgetMeasurements()
    {
        foreach (var layer in Layers)
            layer.LastMeasurement = null;
    }

    /// <summary>Drops the input rows every layer's hooks have captured and not yet handed over.</summary>
    public void DiscardCaptures()
    {
        foreach (var layer in Layers)
            layer.Capture.Discard();
    }

    public static void CheckName(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (string.IsNullOrWhiteSpace(name))
            throw new ArgumentException("A watched layer needs a non-empty name (it labels events, logs and metrics).", nameof(name));
    }

    /// <summary>The adapter of a module watched with <see cref="SpectralMonitor.Watch(nn.Module, string)"/>.</summary>
    public static LayerAdapter Adapt(nn.Module layer, string name)
    {
        ArgumentNullException.ThrowIfNull(layer);
        CheckName(name);
        if (!LayerAdapters.TryCreate(layer, name, out var adapter, out var problem))
        {
            throw new ArgumentException(
                $"Cannot watch '{name}' ({layer.GetType().Name}): {problem}. Watchable: Linear, Conv1d, Conv2d, MultiheadAttention, any single-tensor module with a 2-D 'weight' applied as x·Wᵀ, and any module through the Watch overload with a weight selector.",
                nameof(layer));
        }

        return adapter!;
    }

    /// <summary>The adapters of every watchable module of <paramref name="model"/> that <paramref name="filter"/>
    /// accepts, in module order, each module once.</summary>
    public static List<LayerAdapter> Select(nn.Module model, Func<string, nn.Module, bool> filter)
    {
        var selected = new List<LayerAdapter>();
        foreach (var (path, module) in EnumerateModules(model))
        {
            if (selected.Any(s => ReferenceEquals(s.Module, module)) || !LayerAdapters.TryCreate(module, path, out var adapter, out _) || !filter(path, module))
                continue;
            selected.Add(adapter!);
        }

        return selected;
    }

    /// <summary>Throws unless every adapter's module and measured names are new, and distinct among themselves.</summary>
    public void CheckCanAdd(IReadOnlyList<LayerAdapter> adapters)
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var adapter in adapters)
        {
            CheckNotWatched(adapter);
            foreach (var view in adapter.Views)
            {
                if (!names.Add(view.Name))
                    throw new InvalidOperationException($"Two selected modules would both be measured as '{view.Name}'; watch one of them separately under another name.");
            }
        }
    }

    /// <summary>Registers a checked adapter: its layers start being watched at <paramref name="step"/>; the caller
    /// attaches the hooks.</summary>
    public WatchEntry Add(SpectralMonitor monitor, LayerAdapter adapter, long step)
    {
        var layers = adapter.Views
            .Select(view => new WatchedLayer(view, new InputCapture(view.Name, maxSamplesPerLayer, seed), step))
            .ToArray();
        var entry = new WatchEntry(monitor, adapter, layers);
        _watches.Add(entry);
        Layers = [.. Layers, .. layers];
        return entry;
    }

    /// <summary>Forgets a watch and closes it; false when it was already gone.</summary>
    public bool Remove(WatchEntry entry)
    {
        if (!_watches.Remove(entry))
            return false;
        entry.Close();
        Links.Forget(entry.Layers.Select(l => l.Name));
        Layers = [.. _watches.SelectMany(w => w.Layers)];
        return true;
    }

    /// <summary>Adds the links <see cref="SequentialLinks"/> found whose layers are both still watched and whose
    /// downstream layer has no upstream yet (a link made by hand wins).</summary>
    public void AutoLink(IEnumerable<(string Upstream, string Downstream)> links)
    {
        foreach (var (upstream, downstream) in links)
        {
            if (Find(upstream) is not null && Find(downstream) is not null && !Links.HasUpstream(downstream))
                Links.Add(upstream, downstream);
        }
    }

    /// <summary>A copy of a layer's v1 with the monitor's sign convention: (n), or (G, n) for a grouped layer;
    /// <c>null</c> before its first measurement. The caller owns it (also outside any dispose scope).</summary>
    public static Tensor? CopySingularVector(WatchedLayer layer)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        if (layer.Spectral.BasisView() is not { } basis)
            return null;
        var v = basis.select(2, 0);
        return (layer.View.Groups == 1 ? v.squeeze(0) : v).clone().MoveToOuterDisposeScope();
    }

    /// <summary>The measured layer named <paramref name="name"/>, or <c>null</c>.</summary>
    public WatchedLayer? Find(string name) => Array.Find(Layers, l => l.Name == name);

    /// <summary>Closes every watch.</summary>
    public void Clear()
    {
        foreach (var watch in _watches)
            watch.Close();
        _watches.Clear();
        Links.Forget(Layers.Select(l => l.Name));
        Layers = [];
    }

    private void CheckNotWatched(LayerAdapter adapter)
    {
        foreach (var existing in _watches)
        {
            if (ReferenceEquals(existing.Adapter.Module, adapter.Module))
            {
                throw new InvalidOperationException(
                    $"This module is already watched as '{existing.Handle.Name}'. Dispose that LayerWatch first if you want to watch it under another name.");
            }

            foreach (var view in adapter.Views)
            {
                if (existing.Layers.Any(l => l.Name == view.Name))
                    throw new InvalidOperationException($"The name '{view.Name}' is already used by another watched layer; names must be unique.");
            }
        }
    }

    private static IEnumerable<(string Path, nn.Module Module)> EnumerateModules(nn.Module model)
    {
        var seenRoot = false;
        foreach (var (path, module) in model.named_modules())
        {
            if (ReferenceEquals(module, model))
                seenRoot = true;
            yield return (path, module);
        }

        if (!seenRoot)
            yield return ("", model);
    }
}
