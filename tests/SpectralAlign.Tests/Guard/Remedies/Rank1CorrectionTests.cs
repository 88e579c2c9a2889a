using SpectralAlign.Guard.Remedies;
using SpectralAlign.Tests.Support;
using static SpectralAlign.Tests.Guard.GuardKit;
using static TorchSharp.torch;

namespace SpectralAlign.Tests.Guard.Remedies;

/// <summary>W ← W − (σ₁ − τ)·u₁v₁ᵀ against a float64 SVD of the same weight.</summary>
[Collection(TorchCollection.Name)]
public sealed class Rank1CorrectionTests
{
    /// <summary>Relative Frobenius error allowed per dtype: float64 computes to a residual of 1e-10, float32 to 1e-5,
    /// bfloat16 is computed in float32 and rounded back to 8 mantissa bits.</summary>
    internal static double Tolerance(ScalarType dtype) => dtype switch
    {
        ScalarType.Float64 => 1e-8,
        ScalarType.Float32 => 5e-5,
        _ => 1.5e-2,
    };

    [Theory]
    [InlineData(1, 24, 16, ScalarType.Float32)]
    [InlineData(1, 16, 24, ScalarType.Float64)]
    [InlineData(3, 20, 20, ScalarType.Float32)]
    [InlineData(2, 48, 12, ScalarType.Float64)]
    [InlineData(1, 24, 16, ScalarType.BFloat16)]
    public void Apply_TargetBetweenSecondAndFirst_SetsSigma1ToTargetAndLeavesTheRest(int groups, int m, int n, ScalarType dtype)
    {
        using var scope = NewDisposeScope();
        int r = Math.Min(m, n);
        var w = Stack(groups, m, n, g => Geometric(r, 6 + g, 0.75), dtype, seed: 11);
        var (u, s, vh) = Svd(w);
        var tau = Enumerable.Range(0, groups).Select(g => 0.5 * (s[g, 0].item<double>() + s[g, 1].item<double>())).ToArray();

        var result = WeightEditor.Apply(w, new Rank1Correction(tau), warm: null, RemedySettings.Default);

        Assert.True(result.Applied, result.Problem);
        var expectedS = s.clone();
        expectedS.select(1, 0).copy_(tensor(tau, ScalarType.Float64));
        Assert.True(RelativeError(w, Compose(u, expectedS, vh)) <= Tolerance(dtype), $"error {RelativeError(w, Compose(u, expectedS, vh))}");
        var (_, after, _) = Svd(w);
        double scale = s.max().item<double>();
        Assert.All(Doubles(after - expectedS), d => Assert.True(Math.Abs(d) <= 4 * Tolerance(dtype) * scale, $"spectrum off by {d}"));
        Assert.Equal(tau.Max(), result.SpectralNormAfter, 4 * Tolerance(dtype) * scale);
    }

    [Fact]
    public void Apply_TargetAboveSigma1_LeavesTheWeightBitIdentical()
    {
        using var scope = NewDisposeScope();
        var w = Stack(1, 16, 12, _ => Geometric(12, 3, 0.8), ScalarType.Float32, seed: 3);
        var before = RawBytes(w);

        var result = WeightEditor.Apply(w, new Rank1Correction([3.5]), warm: null, RemedySettings.Default);

        Assert.True(result.Applied);
        Assert.Equal(before, RawBytes(w));
    }

    [Fact]
    public void Apply_WarmStartFromTheTrueV1_ConvergesFasterThanCold()
    {
        using var scope = NewDisposeScope();
        var w = Stack(1, 64, 48, _ => Geometric(48, 5, 0.97), ScalarType.Float64, seed: 5);
        var (_, _, vh) = Svd(w);
        var warm = vh.narrow(1, 0, 1).transpose(1, 2);          // (1, n, 1): the exact v1
        var cold = WeightEditor.Apply(w.clone(), new Rank1Correction([4.0]), null, RemedySettings.Default);
        var hot = WeightEditor.Apply(w.clone(), new Rank1Correction([4.0]), warm, RemedySettings.Default);

        Assert.True(cold.Applied && hot.Applied);
        Assert.True(hot.Iterations < cold.Iterations, $"warm {hot.Iterations}, cold {cold.Iterations}");
    }

    [Fact]
    public void Apply_NegativeTarget_IsRefusedWithoutChange()
    {
        using var scope = NewDisposeScope();
        var w = Stack(1, 8, 8, _ => Geometric(8, 2, 0.5), ScalarType.Float32, seed: 1);
        var before = RawBytes(w);

        var result = WeightEditor.Apply(w, new Rank1Correction([-1.0]), null, RemedySettings.Default);

        Assert.False(result.Applied);
        Assert.Contains("non-negative", result.Problem);
        Assert.Equal(before, RawBytes(w));
    }
}
