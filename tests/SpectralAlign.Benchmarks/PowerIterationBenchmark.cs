using System.Text;
using SpectralAlign.Spectral;
using TorchSharp;
using static SpectralAlign.Benchmarks.Harness;
using static TorchSharp.torch;

namespace SpectralAlign.Benchmarks;

/// <summary>
/// Power iteration against <c>torch.linalg.svd</c> on weights (out × in) from 256 to 4096 wide, square and
/// rectangular: the time of one warm update (the monitor's k = 4 subspace step, and a plain k = 1 power step) and of a
/// default warm measurement (2 steps + Rayleigh–Ritz) as fractions of the SVD's time, and the agreement |cos| of v1
/// with the SVD's <c>Vh[0]</c> after 1, 2, 5 warm iterations and from a cold (random) start. The test weights have a
/// known spectrum (σ1 = 1, σ2/σ1 = 0.8, slowly decaying tail, random singular vectors); the warm start is the top-4
/// right singular basis of the weight before an update E with ‖E‖₂ ≈ 0.05·σ1 (much larger than an optimizer step).
/// </summary>
internal static class PowerIterationBenchmark
{
    public static string Run(bool quick, out double ratio1024, out double ratio4096)
    {
        var shapes = new List<(int Out, int In)> { (256, 256), (512, 512), (1024, 1024), (2048, 2048), (1024, 256), (256, 1024), (2048, 512) };
        if (!quick)
            shapes.AddRange([(4096, 4096), (4096, 1024), (1024, 4096)]);
        ratio1024 = double.NaN;
        ratio4096 = double.NaN;

        var text = new StringBuilder();
        text.AppendLine("| out × in | SVD (ms) | one k=4 update (ms) | update / SVD | one k=1 power step / SVD | warm measurement (2 steps + RR) / SVD | \\|cos\\| warm 1 / 2 / 5 | \\|cos\\| cold 1 / 2 / 5 | cold steps to residual ≤ 1e-3 |");
        text.AppendLine("|---|---:|---:|---:|---:|---:|---|---|---:|");
        using var generator = new Generator(20261130, CPU);
        foreach (var (m, n) in shapes)
        {
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            var (w0, w1) = Weights(m, n, generator);
            var w = w1.unsqueeze(0);
            int k = 4;

            // Reference: the SVD of the updated weight.
            int svdRuns = Math.Max(m, n) >= 4096 ? 3 : 5;
            var svdTimes = Time(() => { using var s = NewDisposeScope(); _ = linalg.svd(w1, fullMatrices: false); }, warmup: 1, minRuns: svdRuns, minSeconds: 0, maxRuns: svdRuns);
            var (_, _, vh1) = linalg.svd(w1, fullMatrices: false);
            var reference = vh1[0];
            var (_, _, vh0) = linalg.svd(w0, fullMatrices: false);
            var warmBasis = vh0.narrow(0, 0, k).t().unsqueeze(0).contiguous();
            var coldBasis = randn([1, n, k], generator: generator);

            var updateTimes = Time(() => { using var s = NewDisposeScope(); _ = SubspaceIteration.Iterate(w, warmBasis, 1); }, warmup: 5, minRuns: 30, minSeconds: 0.5);
            var v0 = warmBasis.select(2, 0).unsqueeze(2);
            var powerTimes = Time(() => { using var s = NewDisposeScope(); var u = bmm(w.transpose(1, 2), bmm(w, v0)); _ = u / linalg.vector_norm(u, 2, [1], true); }, warmup: 5, minRuns: 30, minSeconds: 0.5);
            var zeroRef = zeros([1, n]);
            var noRef = tensor(new[] { false });
            var measureTimes = Time(() => { using var s = NewDisposeScope(); _ = SubspaceIteration.RayleighRitz(w, SubspaceIteration.Iterate(w, warmBasis, 2), zeroRef, noRef); }, warmup: 3, minRuns: 20, minSeconds: 0.5);

            double svd = Median(svdTimes), update = Median(updateTimes);
            double Cos(Tensor basis, int iterations) =>
                Math.Abs(SubspaceIteration.RayleighRitz(w, SubspaceIteration.Iterate(w, basis, iterations), zeroRef, noRef).V[0].dot(reference).item<float>());
            var warm = new[] { 1, 2, 5 }.Select(i => Cos(warmBasis, i)).ToArray();
            var cold = new[] { 1, 2, 5 }.Select(i => Cos(coldBasis, i)).ToArray();
            int coldSteps = StepsToTolerance(w, coldBasis, 1e-3, 200);

            if (m == 1024 && n == 1024) ratio1024 = update / svd;
            if (m == 4096 && n == 4096) ratio4096 = update / svd;
            text.AppendLine(FormattableString.Invariant(
                $"| {m} × {n} | {F(svd, "0.0")} | {F(update, "0.000")} | 1/{F(svd / update, "0")} | 1/{F(svd / Median(powerTimes), "0")} | 1/{F(svd / Median(measureTimes), "0")} | {F(warm[0], "0.00000")} / {F(warm[1], "0.00000")} / {F(warm[2], "0.00000")} | {F(cold[0], "0.000")} / {F(cold[1], "0.000")} / {F(cold[2], "0.000")} | {coldSteps} |"));
            Console.Error.WriteLine($"  {m}×{n} done");
        }

        return text.ToString();
    }

    /// <summary>A weight with singular values 1, 0.8, 0.8/(1 + j/8)… and random singular vectors, and the same weight
    /// after a random update of spectral norm ≈ 0.05.</summary>
    private static (Tensor Before, Tensor After) Weights(int m, int n, Generator generator)
    {
        int r = Math.Min(m, n);
        var u = linalg.qr(randn([m, r], generator: generator)).Q;
        var v = linalg.qr(randn([n, r], generator: generator)).Q;
        var s = tensor(Enumerable.Range(0, r).Select(i => i == 0 ? 1f : 0.8f / (1 + ((i - 1) / 8f))).ToArray());
        var before = (u * s.unsqueeze(0)).mm(v.t());
        var update = randn([m, n], generator: generator) * (0.05 / (Math.Sqrt(m) + Math.Sqrt(n)));
        return (before, before + update);
    }

    private static int StepsToTolerance(Tensor w, Tensor basis, double tolerance, int cap)
    {
        var noRef = tensor(new[] { false });
        var zeroRef = zeros([1, w.shape[2]]);
        var q = basis;
        for (int i = 1; i <= cap; i++)
        {
            q = SubspaceIteration.Iterate(w, q, 1);
            if (SubspaceIteration.RayleighRitz(w, q, zeroRef, noRef).Residual.item<float>() <= tolerance)
                return i;
        }

        return cap;
    }
}
