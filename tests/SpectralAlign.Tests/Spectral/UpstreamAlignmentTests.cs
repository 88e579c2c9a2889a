using SpectralAlign.Spectral;
using SpectralAlign.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace SpectralAlign.Tests.Spectral;

/// <summary>
/// <see cref="LayerMeasurement.UpstreamAlignment"/> from the engine: pairs of weights built as U·diag(σ)·Vᵀ whose
/// u1(up) and v1(down) are at a chosen angle θ, compared with |cos θ| and with torch.linalg.svd.
/// Tolerance: 1e-4 (the engine's v1 converges to a residual of 1e-5 and works in float32).
/// </summary>
[Collection(TorchCollection.Name)]
public sealed class UpstreamAlignmentTests
{
    private const double Tolerance = 1e-4;

    /// <summary>An orthonormal (size × size) matrix from the QR of a seeded Gaussian matrix, float64.</summary>
    private static Tensor Orthonormal(int size, long seed)
    {
        using var scope = NewDisposeScope();
        var (q, _) = linalg.qr(Layers.Randn([size, size], ScalarType.Float64, seed));
        return q.DetachFromDisposeScope();
    }

    /// <summary>
    /// W_up (8 × 6) = Q[:, :6]·diag(σ)·Pᵀ, so u1(up) = Q[:, 0]; W_down (5 × 8) = R·diag(σ)·V'ᵀ with V' the first five
    /// columns of Q rotated by θ in the plane of its first two columns, so v1(down) = cos θ·Q[:, 0] + sin θ·Q[:, 1].
    /// </summary>
    private static (Tensor Up, Tensor Down) Pair(double theta, ScalarType dtype, long seed)
    {
        using var scope = NewDisposeScope();
        var q = Orthonormal(8, seed);
        var p = Orthonormal(6, seed + 1);
        var r = Orthonormal(5, seed + 2);
        var up = q.narrow(1, 0, 6).matmul(diag(tensor(new[] { 5.0, 2.0, 1.5, 1.0, 0.5, 0.25 }, ScalarType.Float64))).matmul(p.t());
        var rotated = q.clone();
        rotated[TensorIndex.Colon, 0] = (Math.Cos(theta) * q[TensorIndex.Colon, 0]) + (Math.Sin(theta) * q[TensorIndex.Colon, 1]);
        rotated[TensorIndex.Colon, 1] = (-Math.Sin(theta) * q[TensorIndex.Colon, 0]) + (Math.Cos(theta) * q[TensorIndex.Colon, 1]);
        var down = r.matmul(diag(tensor(new[] { 4.0, 1.5, 1.0, 0.75, 0.5 }, ScalarType.Float64))).matmul(rotated.narrow(1, 0, 5).t());
        return (up.to(dtype).DetachFromDisposeScope(), down.to(dtype).DetachFromDisposeScope());
    }

    /// <summary>Measures the layers (each (m, n) or (G, m, n)) in one call; layer i's upstream is
    /// <paramref name="upstream"/>[i].</summary>
    private static LayerMeasurement[] Measure(Tensor[] weights, int[] upstream)
    {
        var states = weights.Select(_ => new SpectralState()).ToArray();
        try
        {
            var inputs = weights.Select((w, i) => new LayerInput($"l{i}", w.dim() == 2 ? w.unsqueeze(0) : w, null, 0, states[i]) { Upstream = upstream[i] }).ToList();
            using var engine = new SpectralEngine(EngineHarness.Options().ToEngineSettings());
            return engine.Measure(0, inputs);
        }
        finally
        {
            foreach (var state in states)
                state.Dispose();
        }
    }

    [Theory]
    [InlineData(0.0, ScalarType.Float32)]
    [InlineData(30.0, ScalarType.Float32)]
    [InlineData(60.0, ScalarType.Float32)]
    [InlineData(90.0, ScalarType.Float32)]
    [InlineData(0.0, ScalarType.Float64)]
    [InlineData(45.0, ScalarType.Float64)]
    [InlineData(80.0, ScalarType.Float64)]
    [InlineData(135.0, ScalarType.Float64)]
    public void Measure_PairAtKnownAngle_MatchesCosThetaAndSvd(double degrees, ScalarType dtype)
    {
        double theta = degrees * Math.PI / 180;
        var (up, down) = Pair(theta, dtype, seed: 11);
        using var u = up;
        using var d = down;

        var measured = Measure([up, down], [-1, 0]);

        double reference = Reference.UpstreamAlignment(up, down);
        Assert.Equal(Math.Abs(Math.Cos(theta)), reference, 1e-6);   // the construction is what it claims
        Assert.Equal(reference, measured[1].UpstreamAlignment, Tolerance);
        Assert.True(double.IsNaN(measured[0].UpstreamAlignment));   // the first layer has no upstream
    }

    [Fact]
    public void Measure_DifferentBucketsAndOrder_LinkFollowsTheIndex()
    {
        // The downstream listed first, an unrelated layer between: buckets differ (input widths 8, 6, 3).
        var (up, down) = Pair(Math.PI / 3, ScalarType.Float32, seed: 12);
        using var u = up;
        using var d = down;
        using var other = EngineHarness.GappedWeight(1, 4, 3, ScalarType.Float32, seed: 5);

        var measured = Measure([down, other, up], [2, -1, -1]);

        Assert.Equal(Reference.UpstreamAlignment(up, down), measured[0].UpstreamAlignment, Tolerance);
        Assert.Equal(0.5, measured[0].UpstreamAlignment, Tolerance);
        Assert.True(double.IsNaN(measured[1].UpstreamAlignment));
        Assert.True(double.IsNaN(measured[2].UpstreamAlignment));
    }

    [Fact]
    public void Measure_GroupedPair_IsTheLargestGroupAlignment()
    {
        // Group 0 at 80°, group 1 at 20°: the reported value is max(|cos 80°|, |cos 20°|) = cos 20°.
        var (up0, down0) = Pair(80 * Math.PI / 180, ScalarType.Float32, seed: 21);
        var (up1, down1) = Pair(20 * Math.PI / 180, ScalarType.Float32, seed: 31);
        using var up = stack([up0, up1], 0);
        using var down = stack([down0, down1], 0);

        var measured = Measure([up, down], [-1, 0]);

        double expected = Math.Max(Reference.UpstreamAlignment(up0, down0), Reference.UpstreamAlignment(up1, down1));
        Assert.Equal(Math.Cos(20 * Math.PI / 180), expected, 1e-6);
        Assert.Equal(expected, measured[1].UpstreamAlignment, Tolerance);
        foreach (var t in new[] { up0, down0, up1, down1 })
            t.Dispose();
    }

    public static TheoryData<string> Degenerate => ["width", "groups", "zero", "nan"];

    [Theory]
    [MemberData(nameof(Degenerate))]
    public void Measure_DegenerateLink_IsNaN(string kind)
    {
        var (up, down) = Pair(0, ScalarType.Float32, seed: 13);
        using var scope = NewDisposeScope();
        var (first, second) = kind switch
        {
            "width" => (up.narrow(0, 0, 7), down),                        // out(up) = 7 ≠ in(down) = 8
            "groups" => (stack([up, up], 0), down.unsqueeze(0)),          // 2 groups feeding 1
            "zero" => (zeros_like(up), down),                             // no defined u1
            _ => (up, down.clone().index_put_(float.NaN, 0, 0)),          // no defined v1
        };

        var measured = Measure([first, second], [-1, 0]);

        Assert.True(double.IsNaN(measured[1].UpstreamAlignment), $"{kind}: {measured[1].UpstreamAlignment}");
        up.Dispose();
        down.Dispose();
    }

    [Theory]
    [InlineData(1)]    // itself
    [InlineData(2)]    // not in the call
    [InlineData(-2)]
    public void Measure_InvalidUpstreamIndex_Throws(int upstream)
    {
        var (up, down) = Pair(0, ScalarType.Float32, seed: 14);
        using var u = up;
        using var d = down;

        var error = Assert.Throws<ArgumentException>(() => Measure([up, down], [-1, upstream]));
        Assert.Contains("upstream index", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Measure_LinkedPair_OneTransferAndCallerTensorsUntouched()
    {
        var (up, down) = Pair(Math.PI / 4, ScalarType.Float32, seed: 15);
        using var u = up;
        using var d = down;
        using var upBefore = up.clone();
        using var downBefore = down.clone();
        using var upState = new SpectralState();
        using var downState = new SpectralState();
        using var engine = new SpectralEngine(EngineHarness.Options().ToEngineSettings());
        LayerInput[] Inputs() => [new("up", up.unsqueeze(0), null, 0, upState), new("down", down.unsqueeze(0), null, 0, downState) { Upstream = 0 }];
        engine.Measure(0, Inputs());   // cold start (may read back more than once)

        long before = DeviceTransfer.Count;
        var measured = engine.Measure(1, Inputs());

        Assert.Equal(1, DeviceTransfer.Count - before);
        Assert.Equal(Math.Sqrt(0.5), measured[1].UpstreamAlignment, Tolerance);
        Assert.Equal(upBefore.data<float>().ToArray(), up.data<float>().ToArray());
        Assert.Equal(downBefore.data<float>().ToArray(), down.data<float>().ToArray());
    }
}
