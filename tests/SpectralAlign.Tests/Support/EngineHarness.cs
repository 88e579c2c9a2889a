using SpectralAlign.Spectral;
using TorchSharp;
using static TorchSharp.torch;

namespace SpectralAlign.Tests.Support;

/// <summary>Calls the measurement engine directly with plain tensors, and the references to compare it with.</summary>
internal static class EngineHarness
{
    public const int Bins = 20;

    /// <summary>Options for exact comparisons: every row kept, a tight residual tolerance.</summary>
    public static SpectralMonitorOptions Options() => new() { Interval = 1, MaxSamplesPerLayer = 100_000, HistogramBins = Bins, ResidualTolerance = 1e-5 };

    /// <summary>Measures one layer once with a fresh state; returns the measurement and v1 per group (G, n) as doubles.
    /// <paramref name="hostPath"/> chooses the CPU's row path (<see cref="EngineSettings.HostPath"/>): the host's
    /// (the default) or the device operations every other device uses.</summary>
    public static (LayerMeasurement Measurement, double[][] V1) MeasureOnce(Tensor weight, Tensor? rows, SpectralMonitorOptions? options = null, long seenRows = -1, bool hostPath = true)
    {
        using var state = new SpectralState();
        using var engine = new SpectralEngine((options ?? Options()).ToEngineSettings() with { HostPath = hostPath });
        var m = Measure(engine, 0, weight, rows, state, seenRows);
        return (m, state.Basis is null ? [] : V1(state));
    }

    /// <summary>One call of <see cref="SpectralEngine.Measure"/> for one layer.</summary>
    public static LayerMeasurement Measure(SpectralEngine engine, long step, Tensor weight, Tensor? rows, SpectralState state, long seenRows = -1)
    {
        var input = new LayerInput("layer", weight, rows, seenRows >= 0 ? seenRows : rows?.shape[1] ?? 0, state);
        var result = engine.Measure(step, [input]);
        Assert.Single(result);
        return result[0];
    }

    /// <summary>The state's v1 of each group.</summary>
    public static double[][] V1(SpectralState state)
    {
        var basis = state.Basis!;
        return Enumerable.Range(0, (int)basis.shape[0]).Select(g =>
        {
            using var v = basis[g].select(1, 0);
            return Reference.ToDoubles(v);
        }).ToArray();
    }

    /// <summary>A (G, m, n) weight: per group a random matrix plus a rank-1 spike (σ2/σ1 well below 1).</summary>
    public static Tensor GappedWeight(int groups, int outFeatures, int inFeatures, ScalarType dtype, long seed)
    {
        using var scope = NewDisposeScope();
        var blocks = Enumerable.Range(0, groups).Select(g =>
        {
            using var layer = Layers.Gapped(outFeatures, inFeatures, ScalarType.Float64, seed + (1000 * g));
            return layer.weight!.detach().clone();
        }).ToList();
        return stack(blocks, 0).to(dtype).DetachFromDisposeScope();
    }

    /// <summary>(G, N, n) rows with a common offset, so that the SA distribution is not centred on zero.</summary>
    public static Tensor OffsetRows(int groups, int count, int inFeatures, ScalarType dtype, long seed, double offset = 0.7)
    {
        using var scope = NewDisposeScope();
        var common = Layers.Randn([groups, 1, inFeatures], ScalarType.Float64, seed + 1);
        var rows = Layers.Randn([groups, count, inFeatures], ScalarType.Float64, seed) + (offset * common);
        return rows.to(dtype).DetachFromDisposeScope();
    }

    /// <summary>
    /// Asserts a measurement of a (G, m, n) weight and (G, N, n) rows against float64 SVDs of every group: each v1
    /// within |cos| ≥ 0.9999 of Vh[0], σ1 (largest over groups) and ‖W‖_F to a relative 1e-4; the SA statistics and the
    /// centred SA statistics pooled over the groups (each against its own sign-aligned Vh[0]) to
    /// <paramref name="tolerance"/>; the largest row norm and |element| of the valid rows to a relative 1e-6.
    /// </summary>
    public static void AssertMatchesSvd(Tensor weight, Tensor rows, LayerMeasurement measured, double[][] v1, double tolerance = 2e-4)
    {
        long groups = weight.shape[0];
        var sa = new List<double>();
        var centered = new List<double>();
        double sigma1 = 0, frobenius2 = 0, maxNorm = 0, maxAbs = 0;
        for (int g = 0; g < groups; g++)
        {
            using var w = weight[g];
            using var r = rows[g];
            var (refV1, singular) = Reference.Svd(w);
            double cos = Reference.Cosine(v1[g], refV1);
            Assert.True(Math.Abs(cos) >= 0.9999, $"group {g}: |cos(v1, svd)| = {Math.Abs(cos)}");
            var aligned = refV1.Select(x => Math.Sign(cos) * x).ToArray();
            var valid = Reference.Rows(r).Where(x => x.All(double.IsFinite) && Reference.Norm(x) > 0).ToArray();
            sa.AddRange(Reference.Alignments(valid, aligned));
            centered.AddRange(CenteredAlignments(valid, aligned));
            maxNorm = Math.Max(maxNorm, valid.Select(Reference.Norm).DefaultIfEmpty(0).Max());
            maxAbs = Math.Max(maxAbs, valid.SelectMany(x => x).Select(Math.Abs).DefaultIfEmpty(0).Max());
            sigma1 = Math.Max(sigma1, singular[0]);
            frobenius2 += singular.Sum(s => s * s);
        }

        Reference.AssertMatches(Reference.Stats([.. sa], Bins), measured.Stats, tolerance);
        Reference.AssertMatches(Reference.Stats([.. centered], Bins), measured.CenteredStats, tolerance);
        Assert.Equal(sigma1, measured.SpectralNorm, sigma1 * 1e-4);
        Assert.Equal(Math.Sqrt(frobenius2), measured.FrobeniusNorm, Math.Sqrt(frobenius2) * 1e-4);
        Assert.Equal(maxNorm, measured.MaxInputRowNorm, maxNorm * 1e-6);
        Assert.Equal(maxAbs, measured.MaxAbsInput, maxAbs * 1e-6);
    }

    /// <summary>cos(hᵢ − h̄, v) of valid rows, h̄ their mean; rows within 1e-6·‖hᵢ‖ of h̄ are left out.</summary>
    public static double[] CenteredAlignments(double[][] valid, double[] v)
    {
        if (valid.Length == 0)
            return [];
        int n = v.Length;
        var mean = Enumerable.Range(0, n).Select(k => valid.Average(x => x[k])).ToArray();
        return valid
            .Select(x => (Row: x, Centered: x.Zip(mean, (a, b) => a - b).ToArray()))
            .Where(p => Reference.Norm(p.Centered) > 1e-6 * Reference.Norm(p.Row))
            .Select(p => Reference.Cosine(p.Centered, v))
            .ToArray();
    }
}
