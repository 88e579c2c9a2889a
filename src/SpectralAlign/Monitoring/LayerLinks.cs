using SpectralAlign.Hooks;
using SpectralAlign.Spectral;

namespace SpectralAlign.Monitoring;

/// <summary>
/// Which measured layer feeds which (<see cref="SpectralMonitor.Link"/>): at most one upstream layer per downstream
/// layer, checked when linked; links of an unwatched layer are forgotten. Not thread-safe: the monitor calls it under
/// its lock.
/// </summary>
internal sealed class LayerLinks
{
    private readonly Dictionary<string, Link> _upstreamOf = new(StringComparer.Ordinal);

    /// <summary>The links, as (upstream, downstream) names.</summary>
    public IEnumerable<(string Upstream, string Downstream)> All => _upstreamOf.Select(p => (p.Value.Upstream, p.Key));

    /// <summary>Throws unless <paramref name="upstream"/> may be linked to <paramref name="downstream"/>.</summary>
    /// <exception cref="ArgumentException">A name is empty or unknown, the two are the same layer, or the shapes do not
    /// fit (every problem is listed).</exception>
    /// <exception cref="InvalidOperationException"><paramref name="downstream"/> already has an upstream layer.</exception>
    public void Check(WatchedLayer? upstream, WatchedLayer? downstream, string upstreamName, string downstreamName)
    {
        var problems = new List<string>();
        if (upstream is null)
            problems.Add($"'{upstreamName}' is not a watched layer");
        if (downstream is null)
            problems.Add($"'{downstreamName}' is not a watched layer");
        if (upstream is not null && ReferenceEquals(upstream, downstream))
            problems.Add($"a layer cannot be linked to itself ('{upstreamName}')");
        else if (upstream is not null && downstream is not null)
        {
            var (up, down) = (upstream.View, downstream.View);
            if (up.Groups != down.Groups)
                problems.Add($"'{upstreamName}' has {up.Groups} group(s) and '{downstreamName}' {down.Groups}; linked layers are paired group by group");
            if (up.OutFeatures != down.InFeatures)
                problems.Add($"the output width of '{upstreamName}' ({up.OutFeatures}) differs from the input width of '{downstreamName}' ({down.InFeatures})");
        }

        if (problems.Count > 0)
            throw new ArgumentException($"Cannot link '{upstreamName}' → '{downstreamName}': {string.Join("; ", problems)}. Watched layers' names are listed by SpectralMonitor.Watches (LayerWatch.Layers).");
        if (_upstreamOf.TryGetValue(downstreamName, out var existing))
            throw new InvalidOperationException($"'{downstreamName}' is already linked to the upstream layer '{existing.Upstream}'; a layer has at most one upstream layer. Dispose that link first.");
    }

    /// <summary>Whether <paramref name="downstream"/> has an upstream layer.</summary>
    public bool HasUpstream(string downstream) => _upstreamOf.ContainsKey(downstream);

    /// <summary>Adds a checked link; returns the token that <see cref="Remove"/> takes, so that a stale handle never
    /// removes a later link between the same names.</summary>
    public object Add(string upstream, string downstream)
    {
        var link = new Link(upstream);
        _upstreamOf.Add(downstream, link);
        return link;
    }

    /// <summary>Removes the link into <paramref name="downstream"/> if it is still the one <paramref name="token"/>
    /// was returned for.</summary>
    public void Remove(string downstream, object token)
    {
        if (_upstreamOf.TryGetValue(downstream, out var current) && ReferenceEquals(current, token))
            _upstreamOf.Remove(downstream);
    }

    /// <summary>Forgets every link from or to the named layers.</summary>
    public void Forget(IEnumerable<string> layers)
    {
        var gone = layers.ToHashSet(StringComparer.Ordinal);
        foreach (var (upstream, downstream) in All.ToList())
        {
            if (gone.Contains(upstream) || gone.Contains(downstream))
                _upstreamOf.Remove(downstream);
        }
    }

    /// <summary>Sets <see cref="LayerInput.Upstream"/> of every input whose upstream layer is measured in the same
    /// call.</summary>
    public void Resolve(IReadOnlyList<LayerInput> inputs)
    {
        if (_upstreamOf.Count == 0)
            return;
        var index = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < inputs.Count; i++)
            index[inputs[i].Name] = i;
        foreach (var input in inputs)
        {
            input.Upstream = _upstreamOf.TryGetValue(input.Name, out var link) && index.TryGetValue(link.Upstream, out int i) ? i : -1;
        }
    }

    /// <summary>One link, compared by reference (its identity is the handle's token).</summary>
    private sealed class Link(string upstream)
    {
        public string Upstream { get; } = upstream;
    }
}
