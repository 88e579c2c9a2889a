using SpectralAlign.Spectral;
using TorchSharp;
using static TorchSharp.torch;

namespace SpectralAlign.Guard.Remedies;

/// <summary>
/// The top p singular triplets of a stack of matrices W (G, m, n) without a full SVD: block subspace iteration on the
/// right singular subspace, each step Q ← orth(Wᵀ·U) where W·Q = U·S·Zᵀ is the SVD of the small (m × p) product, so
/// every step is also a Rayleigh–Ritz step: V = Q·Z, U and S are the current singular-triplet estimates. Costs
/// O(p·m·n) per step; converges as (σ_{p+1}/σ_i)² for the i-th triplet. Runs on W's device and dtype.
/// </summary>
internal static class TopSubspace
{
    /// <summary>The smallest positive double, the floor of σ₁ in relative residuals (kept alive: see <see cref="Scalars"/>).</summary>
    internal static readonly Scalar Epsilon = double.Epsilon.ToScalar();

    /// <summary>The floor of a remedy's movement weight in its error measure (kept alive: see <see cref="Scalars"/>).</summary>
    internal static readonly Scalar MovementFloor = 1e-3.ToScalar();

    /// <summary>The top triplets, descending: U (G, m, p), S (G, p), V (G, n, p), so that W·V = U·diag(S); the
    /// residual is the error measure at the last step (by default the largest ‖Wᵀuᵢ − σᵢvᵢ‖ / σ₁ over the groups and
    /// the first <c>needed</c> triplets).</summary>
    public readonly record struct Triplets(Tensor U, Tensor S, Tensor V, double Residual, int Iterations, bool Converged);

    /// <summary>Iterates until the first <paramref name="needed"/> triplets have a relative residual at most
    /// <paramref name="tolerance"/>, or <paramref name="maxIterations"/> steps.</summary>
    /// <param name="w">(G, m, n), floating point, finite, not all zero.</param>
    /// <param name="p">Subspace width, 1 ≤ p ≤ min(m, n).</param>
    /// <param name="needed">Triplets that must converge, 1 ≤ needed ≤ p.</param>
    /// <param name="warm">(G, n, k₀) start vectors (e.g. the monitor's basis, first column v1), or <c>null</c>; the
    /// remaining columns are drawn from a private generator seeded with <paramref name="seed"/> (never torch's global
    /// one).</param>
    /// <param name="maxIterations">Step limit.</param>
    /// <param name="tolerance">Relative residual to reach.</param>
    /// <param name="seed">Seed of the start vectors.</param>
    /// <param name="error">The error measure to bring below <paramref name="tolerance"/>, from S (G, p) and the
    /// residual norms ‖Wᵀuᵢ − σᵢvᵢ‖ (G, p); <c>null</c> for the largest relative residual of the first
    /// <paramref name="needed"/> triplets. A remedy passes a measure weighted by how far it moves each triplet: a
    /// triplet it leaves alone need not converge.</param>
    public static Triplets Solve(Tensor w, int p, int needed, Tensor? warm, int maxIterations, double tolerance, ulong seed, Func<Tensor, Tensor, Tensor>? error = null)
    {
        long g = w.shape[0], n = w.shape[2];
        var q = linalg.qr(Start(g, n, p, warm, seed, w), linalg.QRMode.Reduced).Item1;
        Tensor u = null!, s = null!, v = null!;
        double residual = double.PositiveInfinity;
        for (int iteration = 1; iteration <= maxIterations; iteration++)
        {
            var (left, sigma, zt) = linalg.svd(bmm(w, q), fullMatrices: false);  // W·Q = U·S·Zᵀ
            u = left;
            s = sigma;
            v = bmm(q, zt.transpose(1, 2));                                     // right Ritz vectors Q·Z
            var wtu = bmm(u.transpose(1, 2), w).transpose(1, 2);                // Wᵀ·U, (G, n, p)
            var r = wtu - v * s.unsqueeze(1);
            var norms = linalg.norm(r, [1], false);                            // (G, p)
            residual = DeviceTransfer.Number((error is null ? RelativeResidual(s, norms, needed) : error(s, norms)).max());
            if (residual <= tolerance)
                return new Triplets(u, s, v, residual, iteration, true);
            q = linalg.qr(wtu, linalg.QRMode.Reduced).Item1;
        }

        return new Triplets(u, s, v, residual, maxIterations, false);
    }

    /// <summary>‖Wᵀuᵢ − σᵢvᵢ‖ / σ₁ for the first <paramref name="count"/> triplets, (G, count).</summary>
    public static Tensor RelativeResidual(Tensor s, Tensor norms, int count) =>
        norms.narrow(1, 0, count) / s.narrow(1, 0, 1).clamp_min(Epsilon);

    private static Tensor Start(long groups, long n, int p, Tensor? warm, ulong seed, Tensor like)
    {
        using var generator = new Generator(seed, CPU);
        var random = randn([groups, n, p], dtype: ScalarType.Float64, generator: generator).to(like.dtype).to(like.device);
        if (warm is null || warm.shape[0] != groups || warm.shape[1] != n)
            return random;
        int k = (int)Math.Min(warm.shape[2], p);
        var columns = warm.narrow(2, 0, k).to(like.dtype).to(like.device);
        return k == p ? columns : cat([columns, random.narrow(2, k, p - k)], 2);
    }
}
