namespace SpectralAlign.Scenarios.Training;

/// <summary>
/// The suite's models are custom modules, so <see cref="SpectralMonitor.WatchAll"/> cannot link their layers by
/// itself: this declares the pairs whose output feeds the next layer's input directly (through element-wise operations
/// only), for <see cref="LayerMeasurement.UpstreamAlignment"/>. GPT: in every block the attention value projection
/// feeds the output projection (<c>attn.v → attn.o</c>; heads are split and merged in the same feature order and
/// attention mixes positions, not features) and the FFN's up projection feeds its down projection (<c>ffn.up →
/// ffn.down</c>; the gate multiplies element-wise). Residual MLP: <c>fc1 → fc2</c> in every block. Pairs across a
/// residual connection and normalisation (a block's output into the next block) are not linked.
/// </summary>
public static class ScenarioLinks
{
    private static readonly (string Upstream, string Downstream)[] Suffixes =
    [
        (".attn.v", ".attn.o"),
        (".ffn.up", ".ffn.down"),
        (".fc1", ".fc2"),
    ];

    /// <summary>Links every pair of watched layers named <c>{prefix}{upstream suffix}</c> and
    /// <c>{prefix}{downstream suffix}</c>; the links last as long as the watches.</summary>
    /// <param name="monitor">The monitor.</param>
    /// <returns>The (upstream, downstream) names linked.</returns>
    public static IReadOnlyList<(string Upstream, string Downstream)> Apply(SpectralMonitor monitor)
    {
        ArgumentNullException.ThrowIfNull(monitor);
        var names = monitor.Watches.SelectMany(w => w.Layers).ToHashSet(StringComparer.Ordinal);
        var linked = new List<(string, string)>();
        foreach (var name in names.Order(StringComparer.Ordinal))
        {
            foreach (var (up, down) in Suffixes)
            {
                if (!name.EndsWith(up, StringComparison.Ordinal))
                    continue;
                string downstream = name[..^up.Length] + down;
                if (names.Contains(downstream))
                {
                    monitor.Link(name, downstream);
                    linked.Add((name, downstream));
                }
            }
        }

        return linked;
    }
}
