namespace SpectralAlign.Detection;

/// <summary>
/// The settings shared by the attention-logit rules (<see cref="AttentionLogitBoundRule"/>,
/// <see cref="AttentionLogitGrowthRule"/>): how an attention block's query and key projections are found among the
/// measured layers, and the head dimension of the bound
/// B = σ1(W_q) · σ1(W_k) · max‖x_q‖ · max‖x_k‖ / √<see cref="HeadDimension"/>.
/// </summary>
/// <remarks>
/// <para>
/// Every attention logit of every head is qᵀk / √d_head with q = W_q,h x and k = W_k,h x′, so
/// |logit| ≤ σ1(W_q,h) σ1(W_k,h) ‖x‖ ‖x′‖ / √d_head ≤ B: a head's projection is a block of rows of the layer's, whose
/// σ1 is at most the layer's. max‖x_q‖ and max‖x_k‖ are the <see cref="LayerMeasurement.MaxInputRowNorm"/> of the
/// query and key layers (the same input in self-attention, query and key rows in cross-attention). Wortsman et al.
/// (2023) trace one family of small-scale instabilities to attention logits growing without bound (fixed by
/// qk-layernorm); B is what the monitor already measures of it.
/// </para>
/// <para>
/// B is a bound of the logits over the <em>sampled</em> rows only (the largest row norm of a subsample can miss the
/// batch's largest), ignores projection biases (TorchSharp's <c>MultiheadAttention</c> has them by default; the
/// scenario GPT has none), and bounds nothing when queries and keys are normalised after the projection
/// (qk-layernorm): there its level and growth describe the weights and inputs, not the logits.
/// </para>
/// <para>
/// A block is the name shared by a layer ending in <see cref="QuerySuffix"/> and a layer ending in
/// <see cref="KeySuffix"/> measured (and judged) at the same step, e.g. <c>blocks.0.attn.q</c> and
/// <c>blocks.0.attn.k</c> form <c>blocks.0.attn</c>. The defaults fit the names <see cref="SpectralMonitor.WatchAll"/>
/// gives: a TorchSharp <c>MultiheadAttention</c> at <c>attn</c> is measured as <c>attn.q</c>, <c>attn.k</c>,
/// <c>attn.v</c>, <c>attn.out</c>, and separate Linear projections are named by their module path (fields named
/// <c>q</c> and <c>k</c>, as in the scenario GPT). Use e.g. <c>".q_proj"</c> and <c>".k_proj"</c> for projections
/// named that way. A query layer without its key partner at a step forms no block and is not scored.
/// </para>
/// </remarks>
public abstract class AttentionLogitRule : CrossLayerRule
{
    private protected AttentionLogitRule(string reason, double threshold)
        : base(reason, threshold)
    {
    }

    /// <summary>The end of a query projection's layer name; the rest is the block's name. Default
    /// <c>".q"</c>.</summary>
    public string QuerySuffix { get; init; } = ".q";

    /// <summary>The end of a key projection's layer name. Default <c>".k"</c>.</summary>
    public string KeySuffix { get; init; } = ".k";

    /// <summary>The dimension of one attention head, d_head (embedding width / heads): set it for your model. Default
    /// <c>64</c>. It scales the bound by a constant, so it matters for the level (<see cref="AttentionLogitBoundRule"/>)
    /// and not for the growth (<see cref="AttentionLogitGrowthRule"/>).</summary>
    public int HeadDimension { get; init; } = 64;

    /// <inheritdoc />
    protected internal override IEnumerable<(string Group, IReadOnlyList<LayerMeasurement> Members)> Group(IReadOnlyList<LayerMeasurement> measurements)
    {
        var byName = new Dictionary<string, LayerMeasurement>(StringComparer.Ordinal);
        foreach (var m in measurements)
            byName[m.Layer] = m;
        foreach (var q in measurements)
        {
            if (q.Layer.Length <= QuerySuffix.Length || !q.Layer.EndsWith(QuerySuffix, StringComparison.Ordinal))
                continue;
            string block = q.Layer[..^QuerySuffix.Length];
            if (byName.TryGetValue(block + KeySuffix, out var k))
                yield return (block, [q, k]);
        }
    }

    /// <inheritdoc />
    protected internal override IEnumerable<string> Validate()
    {
        foreach (var problem in base.Validate())
            yield return problem;
        if (string.IsNullOrEmpty(QuerySuffix) || string.IsNullOrEmpty(KeySuffix) || QuerySuffix == KeySuffix)
            yield return $"QuerySuffix and KeySuffix must be distinct and not empty (were '{QuerySuffix}' and '{KeySuffix}').";
        if (HeadDimension < 1)
            yield return $"HeadDimension must be >= 1 (was {HeadDimension}).";
    }

    /// <summary>The bound B of a block from its query and key measurements; NaN when it is not finite.</summary>
    private protected double Bound(IReadOnlyList<LayerMeasurement> block)
    {
        var (q, k) = (block[0], block[1]);
        double bound = q.SpectralNorm * k.SpectralNorm * q.MaxInputRowNorm * k.MaxInputRowNorm / Math.Sqrt(HeadDimension);
        return double.IsFinite(bound) ? bound : double.NaN;
    }
}
