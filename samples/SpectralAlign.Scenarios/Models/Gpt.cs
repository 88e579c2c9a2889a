using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace SpectralAlign.Scenarios.Models;

/// <summary>Shape and initialisation of a <see cref="GptLanguageModel"/>.</summary>
public sealed record GptOptions
{
    /// <summary>Vocabulary size.</summary>
    public int Vocab { get; init; }

    /// <summary>Context length (positions).</summary>
    public int Context { get; init; } = 64;

    /// <summary>Model width.</summary>
    public int Dim { get; init; } = 64;

    /// <summary>Number of decoder blocks.</summary>
    public int Layers { get; init; } = 2;

    /// <summary>Attention heads (Dim must be a multiple).</summary>
    public int Heads { get; init; } = 4;

    /// <summary>Hidden width of the SwiGLU FFN.</summary>
    public int FfnHidden { get; init; } = 176;

    /// <summary><c>none</c> (no normalisation anywhere) or <c>rms</c> (pre-norm RMSNorm in every block and before
    /// the LM head).</summary>
    public string Norm { get; init; } = "none";

    /// <summary>True for qk-layernorm (Wortsman et al. 2023; Dehghani et al. 2023): a LayerNorm over the head dimension
    /// applied to queries and keys before their dot product, which bounds the attention logits. Default false.</summary>
    public bool QkNorm { get; init; }

    /// <summary>Standard deviation of the normal initialisation of embeddings and Linear weights (GPT-2: 0.02);
    /// the output projections of attention and FFN are further scaled by 1/√(2·Layers).</summary>
    public double InitStd { get; init; } = 0.02;
}

/// <summary>
/// A GPT-style decoder-only language model: token and learned position embeddings, <see cref="GptOptions.Layers"/>
/// blocks of causal multi-head self-attention (separate q/k/v/o <see cref="Linear"/>s, no bias) and a SwiGLU FFN
/// (gate/up/down <see cref="Linear"/>s, no bias), residual connections, optional pre-norm RMSNorm, and an untied
/// LM head. Module paths: <c>blocks.{i}.attn.{q,k,v,o}</c>, <c>blocks.{i}.ffn.{gate,up,down}</c>, <c>head</c>.
/// </summary>
public sealed class GptLanguageModel : nn.Module<Tensor, Tensor>
{
#pragma warning disable IDE1006, SA1307 // TorchSharp registers submodules under their field names.
    private readonly Embedding tok;
    private readonly Embedding pos;
    private readonly ModuleList<DecoderBlock> blocks;
    private readonly nn.Module<Tensor, Tensor> norm;
    private readonly Linear head;
#pragma warning restore IDE1006, SA1307

    /// <summary>Creates the model with its initialisation.</summary>
    /// <param name="options">Shape and initialisation.</param>
    public GptLanguageModel(GptOptions options) : base(nameof(GptLanguageModel))
    {
        ArgumentNullException.ThrowIfNull(options);
        Options = options;
        tok = nn.Embedding(options.Vocab, options.Dim);
        pos = nn.Embedding(options.Context, options.Dim);
        blocks = new ModuleList<DecoderBlock>(Enumerable.Range(0, options.Layers).Select(_ => new DecoderBlock(options)).ToArray());
        norm = Normalisation.Create(options.Norm, options.Dim);
        head = nn.Linear(options.Dim, options.Vocab, hasBias: false);
        RegisterComponents();

        using var noGrad = no_grad();
        double residualStd = options.InitStd / Math.Sqrt(2.0 * options.Layers);
        foreach (var (name, p) in named_parameters())
        {
            if (p.dim() < 2)
                continue; // norm gains stay at 1
            bool residualOut = name.EndsWith("attn.o.weight", StringComparison.Ordinal) || name.EndsWith("ffn.down.weight", StringComparison.Ordinal);
            nn.init.normal_(p, 0, residualOut ? residualStd : options.InitStd);
        }
    }

    /// <summary>The options the model was built with.</summary>
    public GptOptions Options { get; }

    /// <summary>The largest attention logit q·k/√d_head (over blocks, heads, batch and unmasked positions) of the
    /// last forward pass; NaN before the first. A diagnostic of attention-logit growth (one device→host read).</summary>
    /// <returns>The logit.</returns>
    public double MaxAttentionLogit() => blocks.Count == 0 ? double.NaN : blocks.Max(b => b.MaxAttentionLogit());

    /// <summary>Logits (B, T, Vocab) for token ids (B, T).</summary>
    /// <param name="input">Token ids, int64.</param>
    /// <returns>The logits.</returns>
    public override Tensor forward(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        using var scope = NewDisposeScope();
        long t = input.shape[1];
        // arange(t) and tok + pos, with every Scalar kept alive (KeptScalars).
        using var stop = t.ToScalar();
        using var positions = arange(KeptScalars.IntZero, stop, KeptScalars.IntOne, dtype: ScalarType.Int64, device: input.device);
        var x = tok.call(input).add(pos.call(positions).unsqueeze(0), KeptScalars.IntOne);
        foreach (var block in blocks)
            x = block.call(x);
        return head.call(norm.call(x)).MoveToOuterDisposeScope();
    }
}

/// <summary>One pre-norm decoder block: x + attn(norm1(x)), then + ffn(norm2(x)).</summary>
public sealed class DecoderBlock : nn.Module<Tensor, Tensor>
{
#pragma warning disable IDE1006, SA1307
    private readonly nn.Module<Tensor, Tensor> norm1;
    private readonly CausalSelfAttention attn;
    private readonly nn.Module<Tensor, Tensor> norm2;
    private readonly SwiGlu ffn;
#pragma warning restore IDE1006, SA1307

    /// <summary>Creates the block.</summary>
    /// <param name="options">Shape.</param>
    public DecoderBlock(GptOptions options) : base(nameof(DecoderBlock))
    {
        ArgumentNullException.ThrowIfNull(options);
        norm1 = Normalisation.Create(options.Norm, options.Dim);
        attn = new CausalSelfAttention(options.Dim, options.Heads, options.Context, options.QkNorm);
        norm2 = Normalisation.Create(options.Norm, options.Dim);
        ffn = new SwiGlu(options.Dim, options.FfnHidden);
        RegisterComponents();
    }

    /// <summary>The largest attention logit of the last forward pass (NaN before the first).</summary>
    /// <returns>The logit.</returns>
    public double MaxAttentionLogit() => attn.MaxLogit();

    /// <inheritdoc />
    public override Tensor forward(Tensor input)
    {
        using var scope = NewDisposeScope();
        var x = input.add(attn.call(norm1.call(input)), KeptScalars.IntOne);
        x = x.add(ffn.call(norm2.call(x)), KeptScalars.IntOne);
        return x.MoveToOuterDisposeScope();
    }
}

/// <summary>Causal multi-head self-attention with separate q, k, v and o projections (no bias), optionally with
/// qk-layernorm.</summary>
public sealed class CausalSelfAttention : nn.Module<Tensor, Tensor>
{
    // Kept reachable: a temporary Scalar may be finalized (its native value freed) by a garbage collection on another
    // thread while libtorch still reads it (see SpectralAlign's Spectral/Scalars.cs).
    private static readonly Scalar s_minusInfinity = double.NegativeInfinity.ToScalar();

#pragma warning disable IDE1006, SA1307
    private readonly Linear q;
    private readonly Linear k;
    private readonly Linear v;
    private readonly Linear o;
    private readonly Tensor mask;
    private readonly nn.Module<Tensor, Tensor>? qnorm;
    private readonly nn.Module<Tensor, Tensor>? knorm;
#pragma warning restore IDE1006, SA1307
    private readonly int _heads;
    private double _maxLogit = double.NaN;

    /// <summary>Creates the attention.</summary>
    /// <param name="dim">Model width.</param>
    /// <param name="heads">Heads.</param>
    /// <param name="context">Longest sequence.</param>
    /// <param name="qkNorm">Apply a LayerNorm over the head dimension to queries and keys.</param>
    public CausalSelfAttention(int dim, int heads, int context, bool qkNorm = false) : base(nameof(CausalSelfAttention))
    {
        if (dim % heads != 0)
            throw new ArgumentException($"dim {dim} is not a multiple of heads {heads}.", nameof(heads));
        _heads = heads;
        q = nn.Linear(dim, dim, hasBias: false);
        k = nn.Linear(dim, dim, hasBias: false);
        v = nn.Linear(dim, dim, hasBias: false);
        o = nn.Linear(dim, dim, hasBias: false);
        mask = ones(context, context, dtype: ScalarType.Bool).triu(1);
        if (qkNorm)
        {
            qnorm = nn.LayerNorm(dim / heads);
            knorm = nn.LayerNorm(dim / heads);
        }

        RegisterComponents();
    }

    /// <summary>The largest attention logit of the last forward pass (NaN before the first).</summary>
    /// <returns>The logit.</returns>
    public double MaxLogit() => _maxLogit;

    /// <inheritdoc />
    public override Tensor forward(Tensor input)
    {
        using var scope = NewDisposeScope();
        long b = input.shape[0], t = input.shape[1], c = input.shape[2];
        long hd = c / _heads;
        var qh = q.call(input).view(b, t, _heads, hd).transpose(1, 2);
        var kh = k.call(input).view(b, t, _heads, hd).transpose(1, 2);
        var vh = v.call(input).view(b, t, _heads, hd).transpose(1, 2);
        if (qnorm is not null && knorm is not null)
        {
            qh = qnorm.call(qh);
            kh = knorm.call(kh);
        }

        using var scale = (1.0 / Math.Sqrt(hd)).ToScalar();
        var scores = qh.matmul(kh.transpose(-2, -1)).mul(scale);
        var causal = mask.narrow(0, 0, t).narrow(1, 0, t);
        scores = scores.masked_fill(causal, s_minusInfinity);
        using (no_grad())
            _maxLogit = scores.max().to(ScalarType.Float32).item<float>();

        var y = nn.functional.softmax(scores, -1).matmul(vh);
        y = y.transpose(1, 2).contiguous().view(b, t, c);
        return o.call(y).MoveToOuterDisposeScope();
    }
}

/// <summary>SwiGLU feed-forward: down(silu(gate(x)) ⊙ up(x)), no bias.</summary>
public sealed class SwiGlu : nn.Module<Tensor, Tensor>
{
#pragma warning disable IDE1006, SA1307
    private readonly Linear gate;
    private readonly Linear up;
    private readonly Linear down;
#pragma warning restore IDE1006, SA1307

    /// <summary>Creates the FFN.</summary>
    /// <param name="dim">Model width.</param>
    /// <param name="hidden">Hidden width.</param>
    public SwiGlu(int dim, int hidden) : base(nameof(SwiGlu))
    {
        gate = nn.Linear(dim, hidden, hasBias: false);
        up = nn.Linear(dim, hidden, hasBias: false);
        down = nn.Linear(hidden, dim, hasBias: false);
        RegisterComponents();
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor input)
    {
        using var scope = NewDisposeScope();
        var h = nn.functional.silu(gate.call(input)) * up.call(input);
        return down.call(h).MoveToOuterDisposeScope();
    }
}
