using SpectralAlign.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace SpectralAlign.Tests.Spectral;

/// <summary>SA, σ1, σ2 and the statistics against full SVD (float64) and MathNet on the host.</summary>
[Collection(TorchCollection.Name)]
public sealed class SpectralMeasurementTests
{
    private const int Bins = 20;

    public static TheoryData<int, int, ScalarType> Shapes() => new()
    {
        { 64, 32, ScalarType.Float32 },   // tall
        { 24, 96, ScalarType.Float32 },   // wide
        { 48, 48, ScalarType.Float32 },   // square
        { 1, 40, ScalarType.Float32 },    // 1 × n: rank 1
        { 9, 1, ScalarType.Float32 },     // n = 1: v1 = ±1
        { 3, 2, ScalarType.Float32 },     // n smaller than the subspace dimension
        { 48, 48, ScalarType.Float64 },
        { 40, 56, ScalarType.BFloat16 },
        { 40, 56, ScalarType.Float16 },
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Step_RandomLayer_MatchesSvdReference(int outFeatures, int inFeatures, ScalarType dtype)
    {
        using var layer = Layers.Gapped(outFeatures, inFeatures, dtype, seed: 11);
        // Inputs with a common offset so the SA distribution is not centred on zero.
        using var offset = Layers.Randn([1, inFeatures], ScalarType.Float32, seed: 12);
        using var input = (Layers.Randn([200, inFeatures], ScalarType.Float32, seed: 13) + 0.7 * offset).to(dtype);

        using var harness = new MonitorHarness(new SpectralMonitorOptions { Interval = 1, MaxSamplesPerLayer = 1000, HistogramBins = Bins, ResidualTolerance = 1e-5 });
        using var watch = harness.Monitor.Watch(layer, "layer");
        harness.Step(1, (layer, input));

        var measured = harness.Last("layer");
        var (singular, v1) = Reference.AssertMatchesSvd(layer.weight!, watch, input, measured, Bins);
        Assert.Equal(1.0, Reference.Norm(v1), 1e-5);
        // σ2 is a Ritz value: a lower bound of the true σ2, close to it (the bulk below σ1 is nearly tied here).
        double sigma2 = singular.Length > 1 ? singular[1] : 0;
        Assert.InRange(measured.SecondSingularValue, 0.98 * sigma2 - 1e-6, sigma2 * (1 + 1e-4) + 1e-6);
        double frobenius = Math.Sqrt(singular.Sum(s => s * s));
        Assert.Equal(frobenius, measured.FrobeniusNorm, frobenius * 1e-5);
        Assert.Equal(frobenius * frobenius / (singular[0] * singular[0]), measured.StableRank, 1e-3);
        Assert.True(measured.Residual <= 1e-5, $"residual {measured.Residual}");
        Assert.Equal(MeasurementConditions.ColdStart, measured.Conditions);
    }

    [Fact]
    public void Step_RankOneWeightAndInputsAlongV_GivesPlusMinusOneExactly()
    {
        using var u = Layers.Randn([12, 1], ScalarType.Float64, seed: 1);
        using var vRaw = Layers.Randn([1, 16], ScalarType.Float64, seed: 2);
        using var v = vRaw / vRaw.norm();
        using var layer = Layers.WithWeight(u.matmul(v).to(ScalarType.Float32));
        // 30 rows +c·v and 10 rows −c·v with assorted positive scales c.
        using var scales = arange(1, 41, dtype: ScalarType.Float32).unsqueeze(1) * 0.37f;
        using var signs = cat([ones(30, 1), -ones(10, 1)], 0);
        using var input = (scales * signs * v.to(ScalarType.Float32));

        var m = MeasureOnce(layer, input);

        // v1's sign is a convention: one group has SA = +1, the other −1.
        double s = Math.Sign(m.Stats.Mean);
        Assert.Equal(40, m.Stats.Count);
        Assert.Equal(s * (30 - 10) / 40.0, m.Stats.Mean, 1e-6);
        Assert.Equal(-1, m.Stats.Min, 1e-6);
        Assert.Equal(1, m.Stats.Max, 1e-6);
        Assert.Equal(s > 0 ? 0.75 : 0.25, m.Stats.PositiveFraction, 1e-9);
        Assert.Equal(0.5, m.Stats.SignDiversity, 1e-9);
        Assert.Equal(s > 0 ? 10 : 30, m.Stats.Histogram[0]);
        Assert.Equal(s > 0 ? 30 : 10, m.Stats.Histogram[^1]);
        Assert.Equal(40, m.Stats.Histogram.Sum());
        Assert.Equal(1.0, m.StableRank, 1e-4);
        Assert.Equal(0.0, m.SecondSingularValue, 1e-4);
    }

    [Fact]
    public void Step_InputsOrthogonalToV_GiveZeroAlignmentAndFullDiversity()
    {
        using var layer = Layers.Gapped(20, 24, ScalarType.Float64, seed: 5);
        var (refV1, _) = Reference.Svd(layer.weight!);
        using var v = tensor(refV1, dtype: ScalarType.Float64).unsqueeze(0);
        using var raw = Layers.Randn([50, 24], ScalarType.Float64, seed: 6);
        using var orthogonal = raw - raw.matmul(v.t()).matmul(v);

        var m = MeasureOnce(layer, orthogonal);

        Assert.Equal(50, m.Stats.Count);
        Assert.Equal(0, m.Stats.Mean, 1e-6);
        Assert.Equal(0, m.Stats.Min, 1e-6);
        Assert.Equal(0, m.Stats.Max, 1e-6);
        Assert.Equal(0.5, m.Stats.PositiveFraction, 1e-9);   // ties at zero split evenly
        Assert.Equal(1.0, m.Stats.SignDiversity, 1e-9);
        Assert.Equal(0, m.InputMeanAlignment, 1e-6);
    }

    [Theory]
    [InlineData(1.0f)]
    [InlineData(1e30f)]
    [InlineData(1e-40f)]   // denormal float32
    public void Step_ExtremeInputScales_MatchReference(float scale)
    {
        using var layer = Layers.Gapped(16, 16, ScalarType.Float32, seed: 8);
        using var baseInput = Layers.Randn([64, 16], ScalarType.Float32, seed: 9);
        using var input = baseInput * scale;

        var m = MeasureOnce(layer, input);
        var (refV1, _) = Reference.Svd(layer.weight!);
        var expected = Reference.Stats(Reference.Alignments(Reference.Rows(baseInput), refV1), Bins);

        Assert.Equal(64, m.Stats.Count);
        Assert.Equal(Math.Abs(expected.Mean), m.Stats.AbsMean, 1e-4);
        Assert.Equal(expected.StdDev, m.Stats.StdDev, 1e-4);
        Assert.Equal(expected.SignDiversity, m.Stats.SignDiversity, 1e-9);
    }

    [Theory]
    [InlineData(1e30)]
    [InlineData(1e-41)]
    public void Step_ExtremeWeightScales_ReportScaledSingularValues(double scale)
    {
        using var reference = Layers.Gapped(16, 24, ScalarType.Float64, seed: 21);
        using var scaledWeight = reference.weight! * scale;
        using var layer = Layers.WithWeight(scaledWeight.to(ScalarType.Float32));
        using var input = Layers.Randn([64, 24], ScalarType.Float32, seed: 22);
        var (_, singular) = Reference.Svd(reference.weight!);

        var m = MeasureOnce(layer, input);

        Assert.Equal(MeasurementConditions.ColdStart, m.Conditions);
        // float32 storage of the scaled weight (denormals keep only a few significant bits) limits the agreement.
        double tolerance = scale < 1e-38 ? 0.05 : 1e-4;
        Assert.Equal(singular[0] * scale, m.SpectralNorm, singular[0] * scale * tolerance);
        Assert.Equal(64, m.Stats.Count);
    }

    [Fact]
    public void Step_NearlyTiedSingularValues_ReportsGapAndStillFindsTopDirection()
    {
        // W = U diag(1, 0.97, 0.5, …) Vᵀ: σ2/σ1 = 0.97.
        using var generator = new Generator(31);
        using var q1 = linalg.qr(randn([32, 32], dtype: ScalarType.Float64, generator: generator)).Item1;
        using var q2 = linalg.qr(randn([32, 32], dtype: ScalarType.Float64, generator: generator)).Item1;
        var spectrum = Enumerable.Range(0, 32).Select(i => i switch { 0 => 1.0, 1 => 0.97, _ => 0.5 * Math.Pow(0.95, i) }).ToArray();
        using var s = diag(tensor(spectrum, dtype: ScalarType.Float64));
        using var w = q1.matmul(s).matmul(q2.t());
        using var layer = Layers.WithWeight(w.to(ScalarType.Float32));
        using var input = Layers.Randn([64, 32], ScalarType.Float32, seed: 32);

        var m = MeasureOnce(layer, input);

        Assert.Equal(0.97, m.GapRatio, 1e-3);
        Assert.True(m.Residual <= 1e-3);
        var (refV1, _) = Reference.Svd(w);
        using var monitorVector = MonitorVector(layer, input);
        Assert.True(Math.Abs(Reference.Cosine(Reference.ToDoubles(monitorVector), refV1)) >= 0.999);
    }

    [Theory]
    [InlineData(new long[] { 37, 12 })]
    [InlineData(new long[] { 3, 11, 12 })]
    [InlineData(new long[] { 2, 3, 5, 12 })]
    [InlineData(new long[] { 12 })]
    public void Step_InputOfAnyRank_EveryRowOfLeadingDimensionsIsASample(long[] shape)
    {
        using var layer = Layers.Gapped(10, 12, ScalarType.Float32, seed: 41);
        using var input = Layers.Randn(shape, ScalarType.Float32, seed: 42);

        var m = MeasureOnce(layer, input);

        var (refV1, _) = Reference.Svd(layer.weight!);
        var sa = Reference.Alignments(Reference.Rows(input), refV1);
        long rows = shape.Aggregate(1L, (a, b) => a * b) / 12;
        Assert.Equal(rows, m.Stats.Count);
        Assert.Equal(rows, m.InputRows);
        Assert.Equal(Math.Abs(sa.Average()), m.Stats.AbsMean, 1e-5);
    }

    [Fact]
    public void Step_WarmStartedAcrossSteps_KeepsSignOfMeanStable()
    {
        // The SVD's sign is arbitrary from call to call; the monitor's v1 must keep one orientation while the weight
        // drifts slowly, so the sign of the mean SA never flips for inputs that stay on one side.
        using var layer = Layers.Gapped(24, 24, ScalarType.Float32, seed: 51);
        var (refV1, _) = Reference.Svd(layer.weight!);
        using var direction = tensor(refV1, dtype: ScalarType.Float32);
        using var noise = Layers.Randn([64, 24], ScalarType.Float32, seed: 52);
        using var input = noise * 0.2f + direction;
        using var generator = new Generator(53);

        using var harness = new MonitorHarness(new SpectralMonitorOptions { Interval = 1 });
        using var watch = harness.Monitor.Watch(layer, "layer");
        for (int step = 0; step < 50; step++)
        {
            using (no_grad())
            {
                layer.call(input).Dispose();
                using var drift = randn([24, 24], generator: generator) * 0.01f;
                layer.weight!.add_(drift);
            }

            harness.Monitor.Step();
        }

        var means = harness.Measurements.Select(m => m.Stats.Mean).ToList();
        var conditions = harness.Measurements.Select(m => m.Conditions).ToList();
        Assert.Equal(50, means.Count);
        Assert.All(means, mean => Assert.Equal(Math.Sign(means[0]), Math.Sign(mean)));
        Assert.True(Math.Abs(means[0]) > 0.5);
        Assert.Equal(MeasurementConditions.ColdStart, conditions[0]);
        Assert.All(conditions.Skip(1), c => Assert.Equal(MeasurementConditions.None, c));
    }

    private static LayerMeasurement MeasureOnce(TorchSharp.Modules.Linear layer, Tensor input)
    {
        using var harness = new MonitorHarness(new SpectralMonitorOptions { Interval = 1, MaxSamplesPerLayer = 4096, HistogramBins = Bins, ResidualTolerance = 1e-5 });
        using var watch = harness.Monitor.Watch(layer, "layer");
        harness.Step(1, (layer, input));
        return harness.Last("layer");
    }

    private static Tensor MonitorVector(TorchSharp.Modules.Linear layer, Tensor input)
    {
        using var monitor = new SpectralMonitor(new SpectralMonitorOptions { Interval = 1 });
        using var watch = monitor.Watch(layer, "layer");
        using (no_grad())
            layer.call(input).Dispose();
        monitor.Step();
        return watch.CopySingularVector()!;
    }
}
