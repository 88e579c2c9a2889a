using SpectralAlign.Hooks;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace SpectralAlign.Monitoring;

/// <summary>
/// The links <see cref="SpectralMonitor.WatchAll"/> makes by itself (<see cref="SpectralMonitorOptions.AutoLink"/>):
/// only where the structure makes them certain — two <see cref="Linear"/> modules that follow each other inside one
/// <see cref="Sequential"/>, both selected, with nothing between them but element-wise, parameter-free modules
/// (activations, dropout, identity), which keep the feature coordinates, and with out(first) = in(second). Anything
/// else between them (a normalisation, a reshape, a nested container) breaks the chain; custom modules whose
/// <c>forward</c> wires Linears together are never guessed at: link those with <see cref="SpectralMonitor.Link"/>.
/// </summary>
internal static class SequentialLinks
{
    /// <summary>Element-wise modules without parameters, by type name (TorchSharp.Modules).</summary>
    private static readonly HashSet<string> Transparent = new(StringComparer.Ordinal)
    {
        "ReLU", "ReLU6", "LeakyReLU", "GELU", "SiLU", "Mish", "ELU", "CELU", "SELU", "Tanh", "Sigmoid", "Softplus",
        "Softsign", "Hardtanh", "Hardswish", "Hardsigmoid", "Tanhshrink", "Dropout", "AlphaDropout", "Identity",
    };

    /// <summary>The (upstream, downstream) names of the certain links among <paramref name="selected"/>.</summary>
    public static List<(string Upstream, string Downstream)> Find(nn.Module model, IReadOnlyList<LayerAdapter> selected)
    {
        var links = new List<(string, string)>();
        var modules = model.named_modules().Select(p => p.module).Prepend(model).Distinct(ReferenceEqualityComparer.Instance);
        foreach (var container in modules.OfType<Sequential>())
        {
            (LayerView View, Linear Module)? previous = null;
            foreach (var (_, child) in container.named_children())
            {
                if (child is Linear linear && Array.Find([.. selected], a => ReferenceEquals(a.Module, child)) is { Views: [var view] })
                {
                    if (previous is { } p && p.Module.out_features == linear.in_features)
                        links.Add((p.View.Name, view.Name));
                    previous = (view, linear);
                }
                else if (!Transparent.Contains(child.GetType().Name) || child.parameters().Any())
                {
                    previous = null;
                }
            }
        }

        return links;
    }
}
