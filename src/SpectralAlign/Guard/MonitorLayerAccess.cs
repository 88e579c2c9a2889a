using static TorchSharp.torch;

namespace SpectralAlign.Guard;

/// <summary>
/// <see cref="ILayerAccess"/> through the monitor's internal accessor (<see cref="SpectralMonitor.TryGetLayer"/>: the
/// live (G, m, n) weight view and the layer's spectral state). The parameter a view belongs to is looked up among the
/// watched module's parameters, then the model's (<see cref="ParameterOwner"/>).
/// </summary>
internal sealed class MonitorLayerAccess(SpectralMonitor monitor, nn.Module model) : ILayerAccess
{
    public IReadOnlyList<string> LayerNames => monitor.IsDisposed ? [] : monitor.Watches.SelectMany(w => w.Layers).ToArray();

    public LayerWeight? FindWeight(string layer, out string? problem)
    {
        problem = null;
        if (!monitor.TryGetLayer(layer, out var view, out _))
        {
            problem = "not a watched layer with a weight";
            return null;
        }

        var module = monitor.Watches.FirstOrDefault(w => w.Layers.Contains(layer))?.Module;
        var candidates = (module?.parameters() ?? []).Concat(model.parameters());
        return new LayerWeight(view, ParameterOwner.Find(view, candidates));
    }

    public Tensor? CopyBasis(string layer)
    {
        if (!monitor.TryGetLayer(layer, out var view, out var state))
            return null;
        view.Dispose();
        using var noGrad = no_grad();
        return state.Basis?.clone();
    }
}
