using SpectralAlign.Spectral;
using SpectralAlign.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace SpectralAlign.Tests.Spectral;

/// <summary>
/// The row paths — on the host for the CPU (<see cref="HostRows"/>), and with device operations as on every other
/// device (<see cref="RowStack"/> in the capture's dtype, <see cref="RowAlignment"/> widening to float64 after the
/// |h|max and non-finite passes) — checked against float64 references computed from the same input values on the
/// inputs where precision or range could fail — rows of very different magnitudes in one layer (1e30, 1, denormal),
/// identical rows (the centred row cancels exactly), float64 rows beyond float32's range.
/// </summary>
[Collection(TorchCollection.Name)]
public sealed class RowAlignmentTests
{
    /// <summary>Rows of one layer scaled by 1e30, 1 and 1e-40 (denormal in float32), with a NaN row, an ∞ row and a
    /// zero row among them: the plain and centred SA statistics, the largest row norm and |element| match the float64
    /// reference of the same values (statistics to 1e-4, as for uniformly scaled rows; norms to 1e-6 relative).</summary>
    [Theory]
    [InlineData(ScalarType.Float32, true)]
    [InlineData(ScalarType.Float64, true)]
    [InlineData(ScalarType.Float32, false)]
    [InlineData(ScalarType.Float64, false)]
    public void Measure_RowsOfMixedMagnitudes_MatchFloat64Reference(ScalarType dtype, bool hostPath)
    {
        using var scope = NewDisposeScope();
        var weight = EngineHarness.GappedWeight(1, 16, 16, ScalarType.Float32, seed: 61);
        var rows = EngineHarness.OffsetRows(1, 96, 16, ScalarType.Float32, seed: 62);
        double[] scales = [1e30, 1, 1e-40];
        var factor = tensor(Enumerable.Range(0, 96).Select(i => (float)scales[i % 3]).ToArray()).view(1, 96, 1);
        rows = (rows * factor).to(dtype);   // float32 products: the 1e-40 rows are denormal
        rows[0, 5] = full(16, float.NaN, dtype: dtype);
        rows[0, 7, 3] = tensor(float.PositiveInfinity, dtype: dtype);
        rows[0, 11] = zeros(16, dtype: dtype);

        var (m, v1) = EngineHarness.MeasureOnce(weight, rows, hostPath: hostPath);

        EngineHarness.AssertMatchesSvd(weight, rows, m, v1, tolerance: 1e-4);
        Assert.Equal(93, m.Stats.Count);
        Assert.Equal(2, m.Stats.NonFiniteRows);
        Assert.Equal(1, m.Stats.ZeroRows);
        Assert.Equal(MeasurementConditions.ColdStart | MeasurementConditions.NonFiniteInput, m.Conditions);
    }

    /// <summary>Identical rows equal their mean: every centred row is below <see cref="RowAlignment.CenteredFloor"/>
    /// and counted as zero (no centred SA from rounding noise), for row counts whose mean is not exact in binary;
    /// the plain SA is the one cosine of that row.</summary>
    [Theory]
    [InlineData(3, true)]
    [InlineData(7, true)]
    [InlineData(100, true)]
    [InlineData(256, true)]
    [InlineData(4096, true)]
    [InlineData(7, false)]
    [InlineData(4096, false)]
    public void Measure_IdenticalRows_NoCenteredValues(int count, bool hostPath)
    {
        using var scope = NewDisposeScope();
        var weight = EngineHarness.GappedWeight(1, 20, 24, ScalarType.Float32, seed: 71);
        var row = EngineHarness.OffsetRows(1, 1, 24, ScalarType.Float32, seed: 72) * 1234.567f;
        var rows = row.expand(1, count, 24).contiguous();

        var (m, v1) = EngineHarness.MeasureOnce(weight, rows, hostPath: hostPath);

        Assert.Equal(0, m.CenteredStats.Count);
        Assert.Equal(count, m.CenteredStats.ZeroRows);
        Assert.Equal(count, m.Stats.Count);
        double expected = Reference.Cosine(Reference.Rows(row)[0], v1[0]);
        Assert.Equal(expected, m.Stats.Min, 1e-6);
        Assert.Equal(expected, m.Stats.Max, 1e-6);
    }

    /// <summary>The host side against a direct float64 computation on hand-made rows of two groups (3 of 4 slots
    /// used): per valid row cos(hᵢ, v) and cos(hᵢ − h̄, v) with h̄ formed explicitly from the valid rows, the
    /// input-mean alignment averaged over groups, the largest row norm and |element|; a NaN row, a zero row and a row
    /// equal to its group's mean (centred rows below the floor) are counted, not summarised.</summary>
    [Fact]
    public void Summarize_HandMadeRows_MatchesDirectComputation()
    {
        double[][][] groups =
        [
            [[3, 4, 0], [double.NaN, 1, 2], [1, -2, 2]],
            [[0, 0, 0], [2, 1, -1], [2, 1, -1]],
        ];
        double[][] v = [[0.6, 0, 0.8], [0, 1, 0]];
        const int capacity = 4;
        var layout = new ResultLayout(2 * capacity);
        var values = new double[layout.Width];
        var expectedPlain = new List<double>();
        var expectedCentered = new List<double>();
        double meanAlignment = 0;
        for (int g = 0; g < 2; g++)
        {
            var valid = groups[g].Where(r => r.All(double.IsFinite) && Reference.Norm(r) > 0).ToArray();
            var mean = Enumerable.Range(0, 3).Select(k => valid.Average(r => r[k])).ToArray();
            meanAlignment += Reference.Cosine(mean, v[g]) / 2;
            for (int i = 0; i < 3; i++)
            {
                var r = groups[g][i];
                int slot = (g * capacity) + i;
                values[layout.Offset(ResultField.RowMaxAbs) + slot] = r.Select(Math.Abs).Aggregate(0.0, (a, b) => double.IsNaN(b) ? b : Math.Max(a, b));
                var zeroed = r.Select(x => double.IsFinite(x) ? x : 0).ToArray();
                values[layout.Offset(ResultField.RowNorm) + slot] = Reference.Norm(zeroed);
                values[layout.Offset(ResultField.RowDotVector) + slot] = zeroed.Zip(v[g], (a, b) => a * b).Sum();
                values[layout.Offset(ResultField.RowDotSum) + slot] = zeroed.Zip(mean, (a, b) => a * b * valid.Length).Sum();
            }

            expectedPlain.AddRange(Reference.Alignments(valid, v[g]));
            expectedCentered.AddRange(EngineHarness.CenteredAlignments(valid, v[g]));
        }

        var result = new AlignmentSummary(EngineHarness.Bins).Summarize(layout.Row(values, 0, 0), 2, capacity, 3, vectorDefined: true);

        Assert.Equal((4, 2), (expectedPlain.Count, expectedCentered.Count));   // group 1's two rows equal their mean
        Assert.Equal((4, 1, 1), (result.Stats.Count, result.Stats.ZeroRows, result.Stats.NonFiniteRows));
        Assert.Equal((2, 3, 1), (result.CenteredStats.Count, result.CenteredStats.ZeroRows, result.CenteredStats.NonFiniteRows));
        Reference.AssertMatches(Reference.Stats([.. expectedPlain], EngineHarness.Bins), result.Stats, 1e-12);
        Reference.AssertMatches(Reference.Stats([.. expectedCentered], EngineHarness.Bins), result.CenteredStats, 1e-12);
        Assert.Equal(1, result.Counts.NonFiniteRows);
        Assert.Equal(1, result.Counts.ZeroRows);
        Assert.Equal(meanAlignment, result.InputMeanAlignment, 1e-12);
        Assert.Equal(5, result.MaxRowNorm, 1e-12);
        Assert.Equal(4, result.MaxAbsInput);
    }

    /// <summary>float64 rows beyond float32's range (1e100, 1e-100) keep float64 and match the reference.</summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Measure_Float64RowsBeyondFloat32Range_MatchFloat64Reference(bool hostPath)
    {
        using var scope = NewDisposeScope();
        var weight = EngineHarness.GappedWeight(1, 12, 10, ScalarType.Float64, seed: 81);
        var rows = EngineHarness.OffsetRows(1, 60, 10, ScalarType.Float64, seed: 82);
        var factor = tensor(Enumerable.Range(0, 60).Select(i => i % 2 == 0 ? 1e100 : 1e-100).ToArray()).view(1, 60, 1);
        rows = rows * factor;

        var (m, v1) = EngineHarness.MeasureOnce(weight, rows, hostPath: hostPath);

        EngineHarness.AssertMatchesSvd(weight, rows, m, v1, tolerance: 1e-4);
        Assert.Equal(60, m.Stats.Count);
    }

    /// <summary>The stack: a layer without rows and layers with fewer rows are zero-padded; the rows keep their
    /// values (float16 widened exactly), in layer order, in float32 unless a layer's rows are float64.</summary>
    [Theory]
    [InlineData(ScalarType.Float32, ScalarType.Float32)]
    [InlineData(ScalarType.Float16, ScalarType.Float32)]
    [InlineData(ScalarType.Float64, ScalarType.Float64)]
    public void RowStack_MixedCounts_PadsWithZeroRows(ScalarType dtype, ScalarType expected)
    {
        using var scope = NewDisposeScope();
        var a = (arange(2 * 3 * 4, dtype: ScalarType.Float32).view(2, 3, 4) + 1).to(dtype);
        var b = (arange(2 * 5 * 4, dtype: ScalarType.Float32).view(2, 5, 4) - 7).to(dtype);
        var stack = new RowStack([a, null, b], 2, 4, CPU);

        Assert.Equal(expected, stack.Rows.dtype);
        Assert.Equal(new long[] { 6, 5, 4 }, stack.Rows.shape);
        Assert.Equal(new long[] { 3, 0, 5 }, stack.Counts);
        Assert.Equal(5, stack.Capacity);
        var rows = stack.Rows.view(3, 2, 5, 4).to(ScalarType.Float64);
        Assert.Equal(Reference.ToDoubles(a), Reference.ToDoubles(rows[0].narrow(1, 0, 3)));
        Assert.Equal(0, rows[0].narrow(1, 3, 2).abs().sum().item<double>());
        Assert.Equal(0, rows[1].abs().sum().item<double>());
        Assert.Equal(Reference.ToDoubles(b), Reference.ToDoubles(rows[2]));
    }

    /// <summary>When every layer has all the rows in one dtype the stack is one copy: never the caller's tensor,
    /// which the row path overwrites (non-finite entries are zeroed in the stack, not in the caller's rows).</summary>
    [Fact]
    public void RowStack_OneLayer_CopiesTheRows()
    {
        // Float64 rows are zeroed in place in the stack (no widening copy): the stack must be a copy of the caller's.
        using var scope = NewDisposeScope();
        var rows = EngineHarness.OffsetRows(1, 8, 6, ScalarType.Float64, seed: 91);
        rows[0, 2, 4] = tensor(double.NaN);
        var stack = new RowStack([rows], 1, 6, CPU);
        _ = new RowAlignment(stack);

        Assert.True(double.IsNaN(rows[0, 2, 4].item<double>()));
        Assert.Equal(0, stack.Rows[0, 2, 4].item<double>());
        Assert.Equal(1, rows.isnan().sum().item<long>());
    }

    [Fact]
    public void RowAlignment_Float32RowsThroughTheWorkspace_SameValuesAsANewTensorAndTheStackIsLeftAsItWas()
    {
        // The workspace path (widen into a kept float64 tensor, then zero non-finite entries) against the plain one
        // (a new float64 tensor), on rows with NaN, ±∞, zero and padding rows; twice, so the second call reuses the kept
        // tensor with stale values in it.
        using var scope = NewDisposeScope();
        using var workspace = new RowWorkspace();
        var v = EngineHarness.OffsetRows(1, 2, 6, ScalarType.Float32, seed: 93).select(0, 0);   // (units, n): one per layer
        for (int call = 0; call < 2; call++)
        {
            var first = EngineHarness.OffsetRows(1, 8, 6, ScalarType.Float32, seed: 92 + call);
            first[0, 2, 4] = tensor(float.NaN);
            first[0, 3, 1] = tensor(float.PositiveInfinity);
            first[0, 5] = zeros(6);
            var second = EngineHarness.OffsetRows(1, 5, 6, ScalarType.Float32, seed: 95 + call);   // padded to 8
            second[0, 0, 0] = tensor(float.NegativeInfinity);
            RowStack Stack() => new([first, second], 1, 6, CPU);
            var kept = Stack();
            var before = kept.Rows.clone();

            var plain = Columns(new RowAlignment(Stack()), v);
            var throughWorkspace = Columns(new RowAlignment(kept, workspace, slot: 0), v);

            Assert.Equal(1, workspace.Held);
            foreach (var (field, expected) in plain)
                Assert.True(expected.allclose(throughWorkspace[field], rtol: 0, atol: 0, equal_nan: true), $"{field} differs on call {call}");
            Assert.True(before.allclose(kept.Rows, rtol: 0, atol: 0, equal_nan: true), "the float32 stack was changed");
        }
    }

    private static Dictionary<ResultField, Tensor> Columns(RowAlignment alignment, Tensor v)
    {
        var columns = new Dictionary<ResultField, Tensor>();
        alignment.Compute(v, columns);
        return columns;
    }
}
