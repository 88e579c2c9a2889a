using static TorchSharp.torch;

namespace SpectralAlign.Guard;

/// <summary>
/// What the guard needs to know about a watched layer to correct it — its live (G, m, n) weight view, the parameter
/// that view belongs to, and the monitor's spectral state (a warm basis whose first column is v1) — read through the
/// monitor's internal accessor (<see cref="SpectralMonitor.TryGetLayer"/>). The one seam between the guard and the
/// monitor's internals. The parameter a view belongs to is looked up among the watched module's parameters, then the
/// model's (<see cref="ParameterOwner"/>).
/// </summary>
internal sealed class MonitorLayerAccess(SpectralMonitor monitor, nn.Module model)
{
    /// <summary>Every watched layer's name, in watch order.</summary>
    public IReadOnlyList<string> LayerNames => monitor.IsDisposed ? [] : monitor.Watches.SelectMany(w => w.Layers).ToArray();

    /// <summary>The layer's current weight, or <c>null</c> when it cannot be reached (the reason in
    /// <paramref name="problem"/>).</summary>
    /// <param name="layer">A watched layer's name.</param>
    /// <param name="problem">Why there is no weight, or <c>null</c>.</param>
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

    /// <summary>A copy of the layer's warm basis (G, n, k), on the weight's device, or <c>null</c> before its first
    /// measurement. The caller owns it.</summary>
    /// <param name="layer">A watched layer's name.</param>
    public Tensor? CopyBasis(string layer)
    {
        if (!monitor.TryGetLayer(layer, out var view, out var state))
            return null;
        view.Dispose();
        using var noGrad = no_grad();
        return state.Basis?.clone();
    }
}
