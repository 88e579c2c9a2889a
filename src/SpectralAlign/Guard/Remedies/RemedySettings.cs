using static TorchSharp.torch;

namespace SpectralAlign.Guard.Remedies;

/// <summary>How hard a remedy works to find the singular triplets (or polar factor) it needs.</summary>
/// <param name="MaxIterations">Iteration limit; a remedy that does not converge within it changes nothing.</param>
/// <param name="Float32Tolerance">Relative residual to reach when computing in float32 (float32, float16 and bfloat16
/// weights are computed in float32).</param>
/// <param name="Float64Tolerance">Relative residual to reach when computing in float64 (float64 weights).</param>
/// <param name="Oversampling">Extra subspace columns beyond those needed, for faster convergence.</param>
/// <param name="Seed">Seed of the start vectors not taken from the monitor's basis.</param>
internal sealed record RemedySettings(int MaxIterations = 200, double Float32Tolerance = 1e-5, double Float64Tolerance = 1e-10, int Oversampling = 8, ulong Seed = 0x5EED)
{
    public static RemedySettings Default { get; } = new();

    /// <summary>The dtype a weight of <paramref name="dtype"/> is computed in.</summary>
    public static ScalarType ComputeType(ScalarType dtype) => dtype == ScalarType.Float64 ? ScalarType.Float64 : ScalarType.Float32;

    /// <summary>The tolerance for computations in <paramref name="computeType"/>.</summary>
    public double Tolerance(ScalarType computeType) => computeType == ScalarType.Float64 ? Float64Tolerance : Float32Tolerance;
}
