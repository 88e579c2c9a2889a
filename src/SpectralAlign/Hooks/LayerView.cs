using static TorchSharp.torch;

namespace SpectralAlign.Hooks;

/// <summary>
/// One measured matrix: G groups of (m × n) blocks applied as x·Wᵀ, under one name. A Linear is one view with one
/// group; a grouped convolution is one view with G groups (its SA distribution pools all groups, each against its
/// own v1); an attention module has q, k, v and out views.
/// </summary>
internal sealed class LayerView(string name, string kind, int groups, int outFeatures, int inFeatures, Func<Tensor?> weight)
{
    /// <summary>The measured name (e.g. <c>blocks.0.attn.q</c>).</summary>
    public string Name { get; } = name;

    /// <summary>What the view is, for messages (e.g. <c>Conv2d</c>, <c>MultiheadAttention.q</c>).</summary>
    public string Kind { get; } = kind;

    public int Groups { get; } = groups;

    /// <summary>Rows m of each group's matrix.</summary>
    public int OutFeatures { get; } = outFeatures;

    /// <summary>Columns n of each group's matrix: the length of v1 and of every input row.</summary>
    public int InFeatures { get; } = inFeatures;

    /// <summary>The current weight as a (G, m, n) tensor (a view where possible), or <c>null</c> when the module has
    /// no such weight any more. Looked up at every measurement, so replaced parameters are followed.</summary>
    public Tensor? CurrentWeight()
    {
        var w = weight();
        if (w is null || w.numel() != (long)Groups * OutFeatures * InFeatures)
            return null;
        return w.reshape(Groups, OutFeatures, InFeatures);
    }
}
