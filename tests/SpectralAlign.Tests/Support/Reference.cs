using MathNet.Numerics.Statistics;
using TorchSharp;
using static TorchSharp.torch;

namespace SpectralAlign.Tests.Support;

/// <summary>Independent reference computations: full SVD in float64 and host-side statistics with MathNet.</summary>
internal static class Reference
{
    /// <summary>Top right singular vector (Vh[0]) and all singular values of <paramref name="weight"/>, from
    /// torch.linalg.svd in float64.</summary>
    public static (double[] V1, double[] Singular) Svd(Tensor weight)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var (_, s, vh) = linalg.svd(weight.detach().to(ScalarType.Float64).cpu(), fullMatrices: false);
        return (vh[0].data<double>().ToArray(), s.data<double>().ToArray());
    }

    /// <summary>|cos(u1 of <paramref name="upstream"/>, v1 of <paramref name="downstream"/>)| (two (m, n) weights) from
    /// torch.linalg.svd in float64: the reference of <see cref="LayerMeasurement.UpstreamAlignment"/>.</summary>
    public static double UpstreamAlignment(Tensor upstream, Tensor downstream)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var (u, _, _) = linalg.svd(upstream.detach().to(ScalarType.Float64).cpu(), fullMatrices: false);
        var (_, _, vh) = linalg.svd(downstream.detach().to(ScalarType.Float64).cpu(), fullMatrices: false);
        return Math.Abs(u[TensorIndex.Colon, 0].dot(vh[0]).item<double>());
    }

    /// <summary>
    /// Asserts a measurement against the float64 SVD of <paramref name="weight"/>: |cos(v1, Vh[0])| ≥ 0.9999, σ1 to a
    /// relative 1e-4, and the SA statistics of <paramref name="input"/>'s rows (with Vh[0] sign-aligned to the
    /// monitor's v1, whose sign is a convention) to <paramref name="statsTolerance"/>.
    /// </summary>
    /// <returns>The SVD's singular values and the monitor's v1, for further checks.</returns>
    public static (double[] Singular, double[] V1) AssertMatchesSvd(Tensor weight, LayerWatch watch, Tensor input, LayerMeasurement measured, int bins, double statsTolerance = 2e-4)
    {
        var (refV1, singular) = Svd(weight);
        using var ours = watch.CopySingularVector()!;
        var v1 = ToDoubles(ours);
        Assert.Equal(refV1.Length, v1.Length);
        double cos = Cosine(v1, refV1);
        Assert.True(Math.Abs(cos) >= 0.9999, $"{measured.Layer}: |cos(v1, svd)| = {Math.Abs(cos)}");
        var aligned = refV1.Select(x => Math.Sign(cos) * x).ToArray();
        AssertMatches(Stats(Alignments(Rows(input), aligned), bins), measured.Stats, statsTolerance);
        Assert.Equal(singular[0], measured.SpectralNorm, singular[0] * 1e-4);
        return (singular, v1);
    }

    public static double[] ToDoubles(Tensor t)
    {
        using var scope = NewDisposeScope();
        return t.detach().to(ScalarType.Float64).cpu().contiguous().data<double>().ToArray();
    }

    public static double[][] Rows(Tensor input)
    {
        long n = input.shape[^1];
        var flat = ToDoubles(input.reshape(-1, n));
        return Enumerable.Range(0, flat.Length / (int)n).Select(i => flat.AsSpan(i * (int)n, (int)n).ToArray()).ToArray();
    }

    public static double Dot(double[] a, double[] b)
    {
        double s = 0;
        for (int i = 0; i < a.Length; i++)
            s += a[i] * b[i];
        return s;
    }

    public static double Norm(double[] a) => Math.Sqrt(Dot(a, a));

    public static double Cosine(double[] a, double[] b) => Dot(a, b) / (Norm(a) * Norm(b));

    /// <summary>SA values of every non-zero, finite row against <paramref name="v1"/>.</summary>
    public static double[] Alignments(double[][] rows, double[] v1) =>
        rows.Where(r => r.All(double.IsFinite) && Norm(r) > 0).Select(r => Cosine(r, v1)).ToArray();

    /// <summary>The statistics the monitor reports, computed on the host with MathNet (R-7 quantiles,
    /// population standard deviation, ties at zero split half and half).</summary>
    public static ReferenceStats Stats(double[] sa, int bins)
    {
        double positive = sa.Count(x => x > 1e-6) + 0.5 * sa.Count(x => Math.Abs(x) <= 1e-6);
        double pPlus = positive / sa.Length;
        var histogram = new int[bins];
        foreach (var x in sa)
            histogram[Math.Clamp((int)Math.Floor((x + 1) * bins / 2), 0, bins - 1)]++;
        return new ReferenceStats(
            sa.Length,
            sa.Mean(),
            sa.PopulationStandardDeviation(),
            pPlus,
            2 * Math.Min(pPlus, 1 - pPlus),
            sa.Minimum(),
            sa.QuantileCustom(0.05, QuantileDefinition.R7),
            sa.QuantileCustom(0.25, QuantileDefinition.R7),
            sa.QuantileCustom(0.50, QuantileDefinition.R7),
            sa.QuantileCustom(0.75, QuantileDefinition.R7),
            sa.QuantileCustom(0.95, QuantileDefinition.R7),
            sa.Maximum(),
            histogram);
    }

    public static void AssertMatches(ReferenceStats expected, SpectralAlignmentStats actual, double tolerance)
    {
        Assert.Equal(expected.Count, actual.Count);
        Assert.Equal(expected.Mean, actual.Mean, tolerance);
        Assert.Equal(expected.StdDev, actual.StdDev, tolerance);
        Assert.Equal(expected.PositiveFraction, actual.PositiveFraction, tolerance);
        Assert.Equal(expected.SignDiversity, actual.SignDiversity, tolerance);
        Assert.Equal(expected.Min, actual.Min, tolerance);
        Assert.Equal(expected.P05, actual.P05, tolerance);
        Assert.Equal(expected.P25, actual.P25, tolerance);
        Assert.Equal(expected.Median, actual.Median, tolerance);
        Assert.Equal(expected.P75, actual.P75, tolerance);
        Assert.Equal(expected.P95, actual.P95, tolerance);
        Assert.Equal(expected.Max, actual.Max, tolerance);
        // Values within float32 rounding of a bin edge may land in the neighbouring bin.
        Assert.Equal(expected.Histogram.Sum(), actual.Histogram.Sum());
        Assert.True(
            expected.Histogram.Zip(actual.Histogram, (e, a) => Math.Abs(e - a)).Sum() <= 2,
            $"histograms differ: expected [{string.Join(",", expected.Histogram)}], actual [{string.Join(",", actual.Histogram)}]");
    }
}

internal sealed record ReferenceStats(
    int Count, double Mean, double StdDev, double PositiveFraction, double SignDiversity,
    double Min, double P05, double P25, double Median, double P75, double P95, double Max, int[] Histogram);
