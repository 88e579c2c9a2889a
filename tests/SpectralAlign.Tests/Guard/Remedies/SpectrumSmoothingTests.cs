using SpectralAlign.Guard.Remedies;
using SpectralAlign.Tests.Support;
using static SpectralAlign.Tests.Guard.GuardKit;
using static TorchSharp.torch;

namespace SpectralAlign.Tests.Guard.Remedies;

/// <summary>PSS-like smoothing of the top-k singular values against a float64 SVD of the same weight: the result must
/// be U·diag(s′)·Vᵀ with the reference U and V and s′ changed only in its first k entries.</summary>
[Collection(TorchCollection.Name)]
public sealed class SpectrumSmoothingTests
{
    [Theory]
    [InlineData(1, 32, 24, ScalarType.Float32, 1, SmoothingTarget.NextSingularValue, 1.0)]
    [InlineData(1, 24, 32, ScalarType.Float64, 3, SmoothingTarget.NextSingularValue, 1.0)]
    [InlineData(2, 40, 20, ScalarType.Float32, 4, SmoothingTarget.NextSingularValue, 0.5)]
    [InlineData(1, 30, 30, ScalarType.Float64, 2, SmoothingTarget.TailRootMeanSquare, 1.0)]
    [InlineData(3, 16, 24, ScalarType.Float32, 3, SmoothingTarget.TailRootMeanSquare, 0.25)]
    public void Apply_TopK_ChangesOnlyTheTopKSingularValues(int groups, int m, int n, ScalarType dtype, int k, SmoothingTarget target, double strength)
    {
        using var scope = NewDisposeScope();
        int r = Math.Min(m, n);
        var w = Stack(groups, m, n, g => Geometric(r, 8 + g, 0.8), dtype, seed: 21 + k);
        var (u, s, vh) = Svd(w);
        var expected = s.clone();
        for (int g = 0; g < groups; g++)
        {
            var sg = Doubles(s[g]);
            double t = target == SmoothingTarget.NextSingularValue
                ? sg[k]
                : Math.Sqrt(sg.Skip(k).Sum(x => x * x) / (r - k));
            for (int i = 0; i < k; i++)
                expected[g, i] = sg[i] - strength * Math.Max(sg[i] - t, 0);
        }

        var result = WeightEditor.Apply(w, new SpectrumSmoothing(k, target, strength), warm: null, RemedySettings.Default);

        Assert.True(result.Applied, result.Problem);
        double error = RelativeError(w, Compose(u, expected, vh));
        Assert.True(error <= Rank1CorrectionTests.Tolerance(dtype), $"error {error}");
        var (_, after, _) = Svd(w);
        var sortedExpected = expected.sort(1, descending: true).Values;
        double scale = s.max().item<double>();
        Assert.All(Doubles(after - sortedExpected), d => Assert.True(Math.Abs(d) <= 4 * Rank1CorrectionTests.Tolerance(dtype) * scale, $"spectrum off by {d}"));
        // Beyond the top k, the singular vectors are those of the original weight (checked where the new spectrum
        // separates them from every other singular value by at least 5% of σ1, so that they are well defined).
        var (ua, sa, vha) = Svd(w);
        for (int g = 0; g < groups; g++)
        {
            var wanted = Doubles(expected[g]);
            var found = Doubles(sa[g]);
            for (int i = k; i < r; i++)
            {
                if (Enumerable.Range(0, r).Any(j => j != i && Math.Abs(wanted[j] - wanted[i]) < 0.05 * scale))
                    continue;
                int j = Array.IndexOf(found, found.MinBy(x => Math.Abs(x - wanted[i])));
                double cosV = Math.Abs((vha[g, j] * vh[g, i]).sum().item<double>());
                double cosU = Math.Abs((ua[g, .., j] * u[g, .., i]).sum().item<double>());
                Assert.True(cosV > 1 - 1e-3 && cosU > 1 - 1e-3, $"group {g}, vector {i}: |cos| {cosV}, {cosU}");
            }
        }
    }

    [Theory]
    [InlineData(8, 8, 8)]
    [InlineData(8, 4, 5)]
    [InlineData(6, 10, 0)]
    public void Apply_RankNotBelowMinDimension_IsRefusedWithoutChange(int m, int n, int k)
    {
        using var scope = NewDisposeScope();
        var w = Stack(1, m, n, _ => Geometric(Math.Min(m, n), 2, 0.5), ScalarType.Float32, seed: 2);
        var before = RawBytes(w);

        var result = WeightEditor.Apply(w, new SpectrumSmoothing(k, SmoothingTarget.NextSingularValue, 1), null, RemedySettings.Default);

        Assert.False(result.Applied);
        Assert.Contains("k < min(m, n)", result.Problem);
        Assert.Equal(before, RawBytes(w));
    }
}
