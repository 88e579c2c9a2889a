using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace SpectralAlign.Scenarios.Models;

/// <summary>Shape and initialisation of a <see cref="ResidualMlp"/>.</summary>
public sealed record ResidualMlpOptions
{
    /// <summary>Input features.</summary>
    public int Input { get; init; } = 32;

    /// <summary>Residual-stream width.</summary>
    public int Width { get; init; } = 128;

    /// <summary>Hidden width inside each block.</summary>
    public int Hidden { get; init; } = 256;

    /// <summary>Number of residual blocks.</summary>
    public int Blocks { get; init; } = 6;

    /// <summary>Output classes.</summary>
    public int Classes { get; init; } = 10;

    /// <summary><c>none</c>, <c>rms</c> or <c>layer</c>: pre-norm inside each block and before the head.</summary>
    public string Norm { get; init; } = "none";

    /// <summary>Multiplies every weight of PyTorch's default initialisation (uniform ±1/√fan_in) after creation;
    /// 1 keeps the default.</summary>
    public double InitScale { get; init; } = 1.0;

    /// <summary>Hidden activation: <c>gelu</c> or <c>relu</c>.</summary>
    public string Activation { get; init; } = "gelu";
}

/// <summary>
/// A residual MLP classifier: <c>input</c> Linear, <see cref="ResidualMlpOptions.Blocks"/> blocks
/// x + fc2(act(fc1(norm(x)))), and a <c>head</c> Linear. Module paths: <c>input</c>, <c>blocks.{i}.fc1</c>,
/// <c>blocks.{i}.fc2</c>, <c>head</c>.
/// </summary>
public sealed class ResidualMlp : nn.Module<Tensor, Tensor>
{
#pragma warning disable IDE1006, SA1307
    private readonly Linear input;
    private readonly ModuleList<MlpBlock> blocks;
    private readonly nn.Module<Tensor, Tensor> norm;
    private readonly Linear head;
#pragma warning restore IDE1006, SA1307

    /// <summary>Creates the model.</summary>
    /// <param name="options">Shape and initialisation.</param>
    public ResidualMlp(ResidualMlpOptions options) : base(nameof(ResidualMlp))
    {
        ArgumentNullException.ThrowIfNull(options);
        input = nn.Linear(options.Input, options.Width);
        blocks = new ModuleList<MlpBlock>(Enumerable.Range(0, options.Blocks).Select(_ => new MlpBlock(options)).ToArray());
        norm = Normalisation.Create(options.Norm, options.Width);
        head = nn.Linear(options.Width, options.Classes);
        RegisterComponents();
        if (options.InitScale != 1.0)
        {
            using var noGrad = no_grad();
            using var scale = options.InitScale.ToScalar();
            foreach (var (name, p) in named_parameters())
            {
                if (p.dim() >= 2)
                    p.mul_(scale);
            }
        }
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var h = input.call(x);
        foreach (var block in blocks)
            h = block.call(h);
        return head.call(norm.call(h)).MoveToOuterDisposeScope();
    }
}

/// <summary>One residual block of a <see cref="ResidualMlp"/>.</summary>
public sealed class MlpBlock : nn.Module<Tensor, Tensor>
{
#pragma warning disable IDE1006, SA1307
    private readonly nn.Module<Tensor, Tensor> norm;
    private readonly Linear fc1;
    private readonly Linear fc2;
#pragma warning restore IDE1006, SA1307
    private readonly bool _relu;

    /// <summary>Creates the block.</summary>
    /// <param name="options">Shape.</param>
    public MlpBlock(ResidualMlpOptions options) : base(nameof(MlpBlock))
    {
        ArgumentNullException.ThrowIfNull(options);
        norm = Normalisation.Create(options.Norm, options.Width);
        fc1 = nn.Linear(options.Width, options.Hidden);
        fc2 = nn.Linear(options.Hidden, options.Width);
        _relu = options.Activation switch
        {
            "relu" => true,
            "gelu" => false,
            _ => throw new ArgumentException($"Unknown activation '{options.Activation}' (gelu, relu).", nameof(options)),
        };
        RegisterComponents();
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor input)
    {
        using var scope = NewDisposeScope();
        var h = fc1.call(norm.call(input));
        h = _relu ? nn.functional.relu(h) : nn.functional.gelu(h);
        return input.add(fc2.call(h), KeptScalars.IntOne).MoveToOuterDisposeScope();
    }
}
