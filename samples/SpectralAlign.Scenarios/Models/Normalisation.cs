using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace SpectralAlign.Scenarios.Models;

/// <summary>Creates the normalisation layers the scenario models can use.</summary>
public static class Normalisation
{
    /// <summary>A normalisation module by name.</summary>
    /// <param name="kind"><c>none</c> (identity), <c>rms</c> (RMSNorm with a learnt gain) or <c>layer</c>
    /// (LayerNorm).</param>
    /// <param name="dim">Feature width.</param>
    /// <returns>The module.</returns>
    /// <exception cref="ArgumentException">Unknown kind.</exception>
    public static nn.Module<Tensor, Tensor> Create(string kind, int dim) => kind switch
    {
        "none" => nn.Identity(),
        "rms" => new RmsNorm(dim),
        "layer" => nn.LayerNorm(dim),
        _ => throw new ArgumentException($"Unknown normalisation '{kind}' (none, rms, layer).", nameof(kind)),
    };
}

/// <summary>RMSNorm: x / rms(x) · g, with a learnt gain g initialised to 1.</summary>
public sealed class RmsNorm : nn.Module<Tensor, Tensor>
{
    /// <summary>The 1e-6 added to the mean square, kept alive (see <see cref="KeptScalars"/>).</summary>
    private static readonly Scalar s_epsilon = 1e-6.ToScalar();

#pragma warning disable IDE1006, SA1307
    private readonly Parameter weight;
#pragma warning restore IDE1006, SA1307

    /// <summary>Creates the layer.</summary>
    /// <param name="dim">Feature width.</param>
    public RmsNorm(int dim) : base(nameof(RmsNorm))
    {
        weight = new Parameter(ones(dim));
        RegisterComponents();
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        using var scope = NewDisposeScope();
        var rms = input.pow(KeptScalars.IntTwo).mean([-1L], keepdim: true).add(s_epsilon, KeptScalars.IntOne).rsqrt();
        return (input * rms * weight).MoveToOuterDisposeScope();
    }
}
