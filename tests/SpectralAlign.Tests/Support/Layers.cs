using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace SpectralAlign.Tests.Support;

/// <summary>Constructed layers and inputs for tests. Every random draw goes through an explicit generator.</summary>
internal static class Layers
{
    /// <summary>A bias-free Linear (out × in) whose weight is a random matrix plus a strong rank-1 spike, so that
    /// σ2/σ1 is well below 1 and v1 is well defined.</summary>
    public static Linear Gapped(int outFeatures, int inFeatures, ScalarType dtype, long seed, double spike = 4.0)
    {
        using var generator = new Generator((ulong)seed);
        var layer = nn.Linear(inFeatures, outFeatures, hasBias: false);
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var noise = randn([outFeatures, inFeatures], dtype: ScalarType.Float64, generator: generator) / Math.Sqrt(Math.Max(outFeatures, inFeatures));
        var u = randn([outFeatures, 1], dtype: ScalarType.Float64, generator: generator);
        var v = randn([1, inFeatures], dtype: ScalarType.Float64, generator: generator);
        var w = noise + spike * (u / u.norm()).matmul(v / v.norm());
        layer.weight!.copy_(w.to(ScalarType.Float32));
        layer.to(dtype);
        return layer;
    }

    /// <summary>A bias-free Linear with the given weight (copied).</summary>
    public static Linear WithWeight(Tensor weight)
    {
        var layer = nn.Linear(weight.shape[1], weight.shape[0], hasBias: false);
        using var noGrad = no_grad();
        layer.to(weight.dtype);
        layer.weight!.copy_(weight);
        return layer;
    }

    public static Tensor Randn(long[] shape, ScalarType dtype, long seed)
    {
        using var generator = new Generator((ulong)seed);
        return randn(shape, dtype: ScalarType.Float32, generator: generator).to(dtype);
    }
}
