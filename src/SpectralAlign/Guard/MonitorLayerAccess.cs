using TorchSharp.Modules;
using static TorchSharp.torch;

namespace SpectralAlign.Guard;

/// <summary>
/// <see cref="ILayerAccess"/> from the monitor's public surface: a layer's weight is read from its watched module
/// (<see cref="LayerWatch.Module"/>: a Linear or single-weight module, a Conv1d/Conv2d read as groups × (out/groups) ×
/// (in/groups·kernel), a MultiheadAttention's <c>.q</c>/<c>.k</c>/<c>.v</c> rows of the packed input projection or its
/// separate projections and <c>.out</c>), its basis is v1 (<see cref="LayerWatch.CopySingularVector"/>). Layers
/// watched through a weight selector or as slices of a weight are not reachable this way.
/// </summary>
internal sealed class MonitorLayerAccess(SpectralMonitor monitor) : ILayerAccess
{
    public IReadOnlyList<string> LayerNames => monitor.Watches.SelectMany(w => w.Layers).ToArray();

    public LayerWeight? FindWeight(string layer, out string? problem)
    {
        problem = null;
        var watch = Find(layer);
        if (watch is null)
        {
            problem = "not a watched layer";
            return null;
        }

        var weight = watch.Module switch
        {
            MultiheadAttention attention => AttentionWeight(attention, layer[(layer.LastIndexOf('.') + 1)..]),
            _ when watch.Layers.Count != 1 => null,
            Convolution conv => conv.weight is { } w ? new LayerWeight(w.view(conv.groups, w.shape[0] / conv.groups, -1), w) : null,
            _ => Parameter(watch.Module, "weight") is { } w && w.dim() == 2 ? new LayerWeight(w.view(1, w.shape[0], w.shape[1]), w) : null,
        };
        if (weight is null)
            problem = $"its weight cannot be reached from the public surface of {watch.Module.GetType().Name} (watched through a selector or as slices?)";
        return weight;
    }

    public Tensor? CopyBasis(string layer)
    {
        var watch = Find(layer);
        if (watch is null || watch.IsDisposed)
            return null;
        using var scope = NewDisposeScope();
        var v = watch.CopySingularVector(layer);
        if (v is null)
            return null;
        var basis = v.dim() == 1 ? v.view(1, -1, 1) : v.unsqueeze(2);
        return basis.MoveToOuterDisposeScope();
    }

    private LayerWatch? Find(string layer) => monitor.IsDisposed ? null : monitor.Watches.FirstOrDefault(w => w.Layers.Contains(layer));

    private static LayerWeight? AttentionWeight(MultiheadAttention attention, string part)
    {
        if (part == "out")
            return Parameter(attention, "out_proj.weight") is { } o ? new LayerWeight(o.view(1, o.shape[0], o.shape[1]), o) : null;
        int index = Array.IndexOf(["q", "k", "v"], part);
        if (index < 0)
            return null;
        if (Parameter(attention, "in_proj_weight") is { } packed)
        {
            long embed = packed.shape[1];
            return new LayerWeight(packed.narrow(0, index * embed, embed).view(1, embed, embed), packed);
        }

        return Parameter(attention, $"{part}_proj_weight") is { } separate ? new LayerWeight(separate.view(1, separate.shape[0], separate.shape[1]), separate) : null;
    }

    private static Parameter? Parameter(nn.Module module, string name) =>
        module.named_parameters().Where(p => p.name == name).Select(p => p.parameter).FirstOrDefault();
}
