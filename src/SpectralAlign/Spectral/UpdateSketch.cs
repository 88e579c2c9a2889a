using TorchSharp;
using static TorchSharp.torch;

namespace SpectralAlign.Spectral;

/// <summary>
/// A random sketch of a weight for the update ratio ‖W_t − W_prev‖_F / ‖W_t‖_F without keeping W_prev: each layer
/// keeps only S = (WΩ)ᵀ, (G, <see cref="Columns"/>, m) in float32 (float64 for weights the engine rescales), where Ω (n × <see cref="Columns"/>) has independent ±1
/// entries from a private generator with a fixed seed (never torch's global one). Then
/// E‖(W_t − W_prev)Ω‖²_F / r = ‖W_t − W_prev‖²_F exactly (an unbiased estimate of the squared distance), with a
/// relative standard deviation of at most √(2/r) ≈ 0.35 for a rank-1 change and about √(2/(r·k)) for a change
/// spread over k comparable directions (optimizer updates are typically of high rank). Memory per layer:
/// G·m·r float32 plus Ω.
/// </summary>
internal static class UpdateSketch
{
    /// <summary>Sketch columns r.</summary>
    public const int Columns = 16;

    /// <summary><see cref="Columns"/> as a scalar operand kept alive (see <see cref="Scalars"/>).</summary>
    public static readonly Scalar ColumnCount = ((double)Columns).ToScalar();

    private const ulong Seed = 0x5CE7C4_2026UL;

    /// <summary>Ω for input width <paramref name="n"/> on <paramref name="device"/>: the same matrix for every layer
    /// and run (drawn on the CPU, copied once per layer).</summary>
    public static Tensor Projection(int n, Device device)
    {
        using var scope = NewDisposeScope();
        using var generator = new Generator(StableHash.Mix(Seed, (ulong)n, 0), CPU);
        var signs = randint(0, 2, [n, Columns], dtype: ScalarType.Float32, generator: generator) * Scalars.Two - Scalars.One;
        return signs.to(device).DetachFromDisposeScope();
    }
}
