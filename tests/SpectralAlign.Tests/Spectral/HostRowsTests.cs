using SpectralAlign.Spectral;
using SpectralAlign.Tests.Support;
using static TorchSharp.torch;

namespace SpectralAlign.Tests.Spectral;

/// <summary>
/// The CPU's host row path (<see cref="HostRows"/>, <see cref="EngineSettings.RowsOnHost"/>) against the device path
/// every other device uses (<see cref="RowStack"/> and <see cref="RowAlignment"/>, itself held to float64 SVD
/// references in <see cref="RowAlignmentTests"/>): the same measurements to rounding, over buckets of several layers with
/// different row counts and a layer without rows, rows with NaN, ±∞ and zero rows, groups, dtypes and input widths below,
/// at and beyond one vector step (8 float32 lanes) with tails.
/// </summary>
[Collection(TorchCollection.Name)]
public sealed class HostRowsTests
{
    /// <summary>Relative tolerance between the two paths: both sum float64 products of the same exactly widened values,
    /// in different orders.</summary>
    private const double Tolerance = 1e-12;

    [Theory]
    [InlineData(1, 5, ScalarType.Float32)]
    [InlineData(1, 13, ScalarType.Float32)]
    [InlineData(1, 64, ScalarType.Float32)]
    [InlineData(3, 13, ScalarType.Float32)]
    [InlineData(1, 13, ScalarType.Float64)]
    [InlineData(2, 9, ScalarType.Float64)]
    [InlineData(1, 16, ScalarType.BFloat16)]
    [InlineData(2, 11, ScalarType.Float16)]
    public void Measure_HostAndDeviceRowPaths_SameMeasurements(int groups, int width, ScalarType dtype)
    {
        using var scope = NewDisposeScope();
        // Three layers of one bucket (same G and n; output widths 7, 7 and 12: two runs); 40, 0 (no rows) and 25 rows.
        var weights = new[] { (7, 40, 1L), (7, 0, 2L), (12, 25, 3L) }
            .Select(l => (Weight: EngineHarness.GappedWeight(groups, l.Item1, width, ScalarType.Float32, seed: 10 * l.Item3),
                          Rows: l.Item2 == 0 ? null : Rows(groups, l.Item2, width, dtype, seed: (10 * l.Item3) + 1)))
            .ToArray();

        var host = Measure(weights, rowsOnHost: true);
        var device = Measure(weights, rowsOnHost: false);

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
        var settings = EngineHarness.Options().ToEngineSettings();
        using var hostState = new SpectralState();
        using var deviceState = new SpectralState();
        using var hostEngine = new SpectralEngine(settings with { RowsOnHost = true });
        using var deviceEngine = new SpectralEngine(settings with { RowsOnHost = false });
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

    private static LayerMeasurement[] Measure((Tensor Weight, Tensor? Rows)[] layers, bool rowsOnHost)
    {
        var states = layers.Select(_ => new SpectralState()).ToArray();
        try
        {
            using var engine = new SpectralEngine(EngineHarness.Options().ToEngineSettings() with { RowsOnHost = rowsOnHost });
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
