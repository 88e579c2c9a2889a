using SpectralAlign.Spectral;
using SpectralAlign.Tests.Support;
using static TorchSharp.torch;

namespace SpectralAlign.Tests.Spectral;

/// <summary>
/// The CPU's host path (<see cref="EngineSettings.HostPath"/>: <see cref="HostRows"/>, <see cref="HostSketch"/>,
/// <see cref="SymmetricEigen"/>) against the device path every other device uses (<see cref="RowStack"/>,
/// <see cref="RowAlignment"/>, LAPACK's eigh; itself held to float64 SVD references in <see cref="RowAlignmentTests"/>),
/// over buckets of several layers with different row counts and a layer without rows, rows with NaN, ±∞ and zero
/// rows, groups, dtypes and input widths below, at and beyond one vector step (8 float32 lanes) with tails: the row
/// values to float64 rounding for the same v1, whole measurements to float32 rounding (the two paths solve the same
/// float32 Gram matrices with different float64 eigensolvers and round σ and v1 to float32).
/// </summary>
[Collection(TorchCollection.Name)]
public sealed class HostRowsTests
{
    /// <summary>Relative tolerance of the row values for the same v1: both sum float64 products of the same exactly
    /// widened values, in different orders.</summary>
    private const double RowTolerance = 1e-12;

    /// <summary>Relative tolerance of whole measurements: float32 rounding of σ and v1, and what follows from it.</summary>
    private const double Tolerance = 1e-5;

    [Theory]
    [InlineData(1, 5, ScalarType.Float32)]
    [InlineData(1, 13, ScalarType.Float32)]
    [InlineData(3, 64, ScalarType.Float32)]
    [InlineData(2, 9, ScalarType.Float64)]
    [InlineData(1, 16, ScalarType.BFloat16)]
    public void Align_SameRowsAndVectors_SameValuesAsRowAlignment(int groups, int width, ScalarType dtype)
    {
        using var scope = NewDisposeScope();
        Tensor?[] rows = [Rows(groups, 40, width, dtype, seed: 1), null, Rows(groups, 25, width, dtype, seed: 2)];
        var v = EngineHarness.OffsetRows(1, 3 * groups, width, ScalarType.Float32, seed: 3).select(0, 0);   // (L·G, n)
        var layout = new ResultLayout(groups * 40);
        var device = new double[3 * layout.Width];
        var columns = new Dictionary<ResultField, Tensor>();
        new RowAlignment(new RowStack(rows, groups, width, CPU)).Compute(v, columns);
        foreach (var field in Enum.GetValues<ResultField>().Where(f => !columns.ContainsKey(f)))
            columns[field] = zeros(3, dtype: ScalarType.Float64);
        DeviceTransfer.CopyTo(layout.Pack(columns), device);
        var host = new HostRows(rows, groups, width);
        var buffers = new List<double[]>();

        host.Align(v, buffers);

        Assert.Equal(40, host.Capacity);
        Assert.Equal(new long[] { 40, 0, 25 }, host.Counts);
        for (int j = 0; j < 3; j++)
        {
            var expected = RowValues.Of(layout.Row(device, 0, j));
            var actual = host.Values(j);
            for (int slot = 0; slot < groups * 40; slot++)
            {
                int g = slot / 40, i = slot % 40;
                if (i >= host.Counts[j])
                    continue;   // padding: not read
                Assert.Equal(double.IsFinite(expected.RowMax[slot]), double.IsFinite(actual.RowMax[slot]));
                if (!double.IsFinite(expected.RowMax[slot]))
                    continue;   // a non-finite row: only its flag is read
                AssertClose(expected.RowMax[slot], actual.RowMax[slot], $"{j}/{g}/{i} max");
                AssertClose(expected.Norm[slot], actual.Norm[slot], $"{j}/{g}/{i} norm");
                AssertClose(expected.DotVector[slot], actual.DotVector[slot], $"{j}/{g}/{i} h·v", scale: expected.Norm[slot]);
                AssertClose(expected.DotSum[slot], actual.DotSum[slot], $"{j}/{g}/{i} h·S", scale: Math.Abs(expected.DotSum[slot]) + expected.Norm[slot] * expected.Norm[slot] * 40);
            }
        }

        foreach (var buffer in buffers)
            System.Buffers.ArrayPool<double>.Shared.Return(buffer);
    }

    /// <summary>Rows whose float64 values would not fit one host span (more than int.MaxValue bytes: found by review)
    /// are left to the device path instead of failing the measurement; an expanded view has the element count without
    /// the memory.</summary>
    [Fact]
    public void CanRead_RowsBeyondOneSpan_False()
    {
        using var scope = NewDisposeScope();
        long limit = int.MaxValue / sizeof(double);

        Assert.True(HostRows.CanRead(null));
        Assert.True(HostRows.CanRead(zeros(1, 1, 1).expand(1, limit, 1)));
        Assert.False(HostRows.CanRead(zeros(1, 1, 1).expand(1, limit + 1, 1)));
    }

    private static void AssertClose(double expected, double actual, string what, double scale = 0) =>
        Assert.True(Math.Abs(expected - actual) <= RowTolerance * Math.Max(Math.Abs(expected), scale), $"{what}: {expected:R} vs {actual:R}");

    [Theory]
    [InlineData(1, 5, ScalarType.Float32)]
    [InlineData(1, 13, ScalarType.Float32)]
    [InlineData(1, 64, ScalarType.Float32)]
    [InlineData(3, 13, ScalarType.Float32)]
    [InlineData(1, 13, ScalarType.Float64)]
    [InlineData(2, 9, ScalarType.Float64)]
    [InlineData(1, 16, ScalarType.BFloat16)]
    [InlineData(2, 11, ScalarType.Float16)]
    public void Measure_HostAndDevicePaths_SameMeasurements(int groups, int width, ScalarType dtype)
    {
        using var scope = NewDisposeScope();
        // Three layers of one bucket (same G and n; output widths 7, 7 and 12: two runs); 40, 0 (no rows) and 25 rows.
        var weights = new[] { (7, 40, 1L), (7, 0, 2L), (12, 25, 3L) }
            .Select(l => (Weight: EngineHarness.GappedWeight(groups, l.Item1, width, ScalarType.Float32, seed: 10 * l.Item3),
                          Rows: l.Item2 == 0 ? null : Rows(groups, l.Item2, width, dtype, seed: (10 * l.Item3) + 1)))
            .ToArray();

        var host = Measure(weights, hostPath: true);
        var device = Measure(weights, hostPath: false);

        Assert.Equal(device.Length, host.Length);
        for (int i = 0; i < host.Length; i++)
            Measurements.AssertClose(device[i], host[i], Tolerance);
        Assert.Equal(MeasurementConditions.NoInput | MeasurementConditions.ColdStart, host[1].Conditions);
        Assert.True(host[0].Stats.Count > 0 && host[0].Stats.NonFiniteRows == 2 * groups && host[0].Stats.ZeroRows == groups);
    }

    /// <summary>A layer measured on three steps with each path — warm after the first, new rows each time, the
    /// weight moved by a small update each time — the same measurements; the update ratio, whose sketch distance the
    /// host sums in float64 (<see cref="HostSketch"/>) and the device in float32, to float32 rounding of the
    /// estimate (and against ‖ΔW‖_F / ‖W‖_F, to the sketch's own spread).</summary>
    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public void Measure_WarmStepsWithUpdates_HostAndDevicePathsAgree(int groups)
    {
        using var scope = NewDisposeScope();
        var weight = EngineHarness.GappedWeight(groups, 20, 24, ScalarType.Float32, seed: 5);
        // The default residual tolerance (1e-3), not the harness's 1e-5: at 1e-5 the halving threshold of the warm plan
        // (IterationHints, 1e-5 / 64) sits at float32's residual floor, where the two paths' rounding can plan
        // different iteration counts for the next step (found by a review fuzz: 5 of 360 layer-steps).
        var options = EngineHarness.Options();
        options.ResidualTolerance = new SpectralMonitorOptions().ResidualTolerance;
        var settings = options.ToEngineSettings();
        using var hostState = new SpectralState();
        using var deviceState = new SpectralState();
        using var hostEngine = new SpectralEngine(settings with { HostPath = true });
        using var deviceEngine = new SpectralEngine(settings with { HostPath = false });
        for (long step = 0; step < 3; step++)
        {
            var previous = weight;
            if (step > 0)
                weight = weight + (0.01f * EngineHarness.GappedWeight(groups, 20, 24, ScalarType.Float32, seed: 50 + step));
            var rows = Rows(groups, 64, 24, ScalarType.Float32, seed: 7 + step);
            var host = EngineHarness.Measure(hostEngine, step, weight, rows, hostState);
            var device = EngineHarness.Measure(deviceEngine, step, weight, rows, deviceState);
            Measurements.AssertClose(device, host, Tolerance, new Dictionary<string, double> { [nameof(LayerMeasurement.UpdateRatio)] = 1e-5 });
            if (step == 0)
            {
                Assert.True(double.IsNaN(host.UpdateRatio));
                continue;
            }

            double exact = (weight - previous).norm().item<float>() / weight.norm().item<float>();
            Assert.InRange(host.UpdateRatio, 0.5 * exact, 1.5 * exact);
        }
    }

    private static LayerMeasurement[] Measure((Tensor Weight, Tensor? Rows)[] layers, bool hostPath)
    {
        var states = layers.Select(_ => new SpectralState()).ToArray();
        try
        {
            using var engine = new SpectralEngine(EngineHarness.Options().ToEngineSettings() with { HostPath = hostPath });
            var inputs = layers.Select((l, i) => new LayerInput($"layer{i}", l.Weight, l.Rows, l.Rows?.shape[1] ?? 0, states[i])).ToList();
            return engine.Measure(0, inputs);
        }
        finally
        {
            foreach (var state in states)
                state.Dispose();
        }
    }

    /// <summary>(G, N, n) offset rows in <paramref name="dtype"/>; in each group row 1 has a NaN, row 2 a −∞ and row 3
    /// is zero (when N allows).</summary>
    private static Tensor Rows(int groups, int count, int width, ScalarType dtype, long seed)
    {
        var rows = EngineHarness.OffsetRows(groups, count, width, ScalarType.Float64, seed);
        for (int g = 0; g < groups && count > 3; g++)
        {
            rows[g, 1, width / 2] = tensor(double.NaN);
            rows[g, 2, 0] = tensor(double.NegativeInfinity);
            rows[g, 3] = zeros(width, dtype: ScalarType.Float64);
        }

        return rows.to(dtype);
    }
}
