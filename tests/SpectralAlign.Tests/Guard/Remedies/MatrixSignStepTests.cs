using SpectralAlign.Guard.Remedies;
using SpectralAlign.Tests.Support;
using static SpectralAlign.Tests.Guard.GuardKit;
using static TorchSharp.torch;

namespace SpectralAlign.Tests.Guard.Remedies;

/// <summary>MSign's polar step by Newton–Schulz against a float64 SVD: all singular values equal, ‖W‖_F kept, singular
/// vectors unchanged.</summary>
[Collection(TorchCollection.Name)]
public sealed class MatrixSignStepTests
{
    /// <summary>max σ / min σ − 1 allowed after the full step: the iteration stops when ‖ΔX‖_F/‖X‖_F ≤ 1e-5 (float32)
    /// or 1e-10 (float64), and converges quadratically there.</summary>
    private static double Flatness(ScalarType dtype) => dtype == ScalarType.Float64 ? 1e-8 : 2e-4;

    [Theory]
    [InlineData(1, 32, 16, ScalarType.Float32)]
    [InlineData(1, 16, 32, ScalarType.Float64)]
    [InlineData(2, 24, 24, ScalarType.Float32)]
    [InlineData(3, 40, 8, ScalarType.Float64)]
    [InlineData(1, 64, 64, ScalarType.Float32)]
    public void Apply_FullStep_EqualSingularValuesSameFrobeniusSameVectors(int groups, int m, int n, ScalarType dtype)
    {
        using var scope = NewDisposeScope();
        int r = Math.Min(m, n);
        var w = Stack(groups, m, n, g => Geometric(r, 10 + g, Math.Pow(100, -1.0 / (r - 1))), dtype, seed: 31);   // condition number 100
        var (u, s, vh) = Svd(w);
        var frobenius = Doubles(s.square().sum(1).sqrt());

        var result = WeightEditor.Apply(w, new MatrixSignStep(1.0), warm: null, RemedySettings.Default);

        Assert.True(result.Applied, result.Problem);
        var (_, after, _) = Svd(w);
        for (int g = 0; g < groups; g++)
        {
            var sg = Doubles(after[g]);
            Assert.True(sg.Max() / sg.Min() - 1 <= Flatness(dtype), $"group {g}: σ from {sg.Min()} to {sg.Max()}");
            Assert.Equal(frobenius[g], Math.Sqrt(sg.Sum(x => x * x)), frobenius[g] * (dtype == ScalarType.Float64 ? 1e-12 : 1e-6));
        }

        var flat = (s.square().sum(1, keepdim: true) / r).sqrt().expand(s.shape);
        Assert.True(RelativeError(w, Compose(u, flat, vh)) <= 2 * Flatness(dtype), $"error {RelativeError(w, Compose(u, flat, vh))}");
    }

    [Theory]
    [InlineData(ScalarType.Float32, 0.5)]
    [InlineData(ScalarType.Float64, 0.25)]
    public void Apply_PartialStep_BlendsSpectrumTowardsFlatAndKeepsFrobenius(ScalarType dtype, double mix)
    {
        using var scope = NewDisposeScope();
        var w = Stack(1, 24, 20, _ => Geometric(20, 6, 0.8), dtype, seed: 41);
        var (u, s, vh) = Svd(w);
        double frobenius = s.square().sum().sqrt().item<double>();
        var blended = s * (1 - mix) + mix * frobenius / Math.Sqrt(20);
        var expected = blended * (frobenius / blended.square().sum().sqrt().item<double>());

        var result = WeightEditor.Apply(w, new MatrixSignStep(mix), null, RemedySettings.Default);

        Assert.True(result.Applied, result.Problem);
        Assert.True(RelativeError(w, Compose(u, expected, vh)) <= 2 * Flatness(dtype), $"error {RelativeError(w, Compose(u, expected, vh))}");
    }

    [Fact]
    public void Apply_RankDeficient_NonZeroSingularValuesEqualZerosStay()
    {
        using var scope = NewDisposeScope();
        var w = Stack(1, 20, 16, _ => [.. Geometric(10, 5, 0.7), .. new double[6]], ScalarType.Float64, seed: 51);

        var result = WeightEditor.Apply(w, new MatrixSignStep(1), null, RemedySettings.Default);

        Assert.True(result.Applied, result.Problem);
        var s = Doubles(Svd(w).S[0]);
        var nonZero = s.Take(10).ToArray();
        Assert.True(nonZero.Max() / nonZero.Min() - 1 <= 1e-8, $"σ from {nonZero.Min()} to {nonZero.Max()}");
        Assert.All(s.Skip(10), x => Assert.True(x <= 1e-10 * nonZero.Max(), $"σ = {x}"));
    }
}
