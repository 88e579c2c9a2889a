using SpectralAlign.Spectral;
using TorchSharp;
using static TorchSharp.torch;

namespace SpectralAlign.Guard.Remedies;

/// <summary>
/// A PSS-like smoothing of the top of the spectrum: for each group, the top-k singular values above the target t are
/// moved towards it, σᵢ ← σᵢ − α·(σᵢ − t) (i ≤ k, σᵢ &gt; t); singular values at or below t, every singular vector and
/// the rest of the spectrum stay as they were: W ← W − U_k·diag(σᵢ − σᵢ′)·V_kᵀ. The top-(k+1) triplets come from
/// <see cref="TopSubspace"/> warm-started from the monitor's basis, so the cost is O(k·m·n) per iteration.
/// </summary>
/// <param name="rank">k ≥ 1; must be below min(m, n).</param>
/// <param name="target">What t is.</param>
/// <param name="strength">α in (0, 1]: 1 sets the top-k to t.</param>
internal sealed class SpectrumSmoothing(int rank, SmoothingTarget target, double strength) : ISpectralRemedy
{
    public string Name => "Smooth";

    public RemedyProposal Propose(Tensor w, Tensor? warm, RemedySettings settings)
    {
        long groups = w.shape[0], r = Math.Min(w.shape[1], w.shape[2]);
        if (rank < 1 || rank >= r)
            return RemedyProposal.Refuse($"smoothing the top {rank} singular values needs 1 ≤ k < min(m, n) = {r}");
        if (!(strength > 0 && strength <= 1))
            return RemedyProposal.Refuse($"the smoothing strength must be in (0, 1] (was {strength})");
        int needed = target == SmoothingTarget.NextSingularValue ? rank + 1 : rank;
        int p = (int)Math.Min(r, needed + settings.Oversampling);
        // Error measure: each moved triplet's residual weighted by how far it moves (σᵢ − σᵢ′)/σ₁ (a triplet left alone
        // need not converge), and for the σ_{k+1} target the residual squared (a Ritz value's error is second order).
        var top = TopSubspace.Solve(w, p, needed, warm, settings.MaxIterations, settings.Tolerance(w.dtype), settings.Seed,
            (s, norms) =>
            {
                var relative = norms / s.narrow(1, 0, 1).clamp_min(TopSubspace.Epsilon);
                var moved = (Reduction(s, Target(w, s, r)) / s.narrow(1, 0, 1).clamp_min(TopSubspace.Epsilon)).clamp_min(TopSubspace.MovementFloor);
                var error = (relative.narrow(1, 0, rank) * moved).max(1).values;
                return target == SmoothingTarget.NextSingularValue ? maximum(error, relative.select(1, rank).pow(Scalars.Two)) : error;
            });
        if (!top.Converged)
            return RemedyProposal.Refuse($"the top {needed} singular triplets did not converge in {top.Iterations} iterations (residual {top.Residual:G3})", top.Iterations);

        var sigma = top.S.narrow(1, 0, rank);                                                  // (G, k)
        var reduction = Reduction(top.S, Target(w, top.S, r));                                 // σᵢ − σᵢ′
        var uk = top.U.narrow(2, 0, rank);
        var vk = top.V.narrow(2, 0, rank);
        var smoothed = w - bmm(uk * reduction.unsqueeze(1), vk.transpose(1, 2));
        var after = (sigma - reduction).select(1, 0);
        if (p > rank)
            after = maximum(after, top.S.select(1, rank));
        return new RemedyProposal(smoothed, null, DeviceTransfer.Number(sigma.select(1, 0).max()), DeviceTransfer.Number(after.max()), top.Iterations);
    }

    /// <summary>The target t per group (G) from the current singular-value estimates S (G, p).</summary>
    private Tensor Target(Tensor w, Tensor s, long r)
    {
        if (target == SmoothingTarget.NextSingularValue)
            return s.select(1, rank);
        using var remaining = (r - rank).ToScalar();
        return ((w.pow(Scalars.Two).sum([1, 2]) - s.narrow(1, 0, rank).pow(Scalars.Two).sum(1)).clamp_min(Scalars.Zero) / remaining).sqrt();
    }

    /// <summary>σᵢ − σᵢ′ = α·max(σᵢ − t, 0) for the top k (G, k).</summary>
    private Tensor Reduction(Tensor s, Tensor t)
    {
        using var alpha = strength.ToScalar();
        return (s.narrow(1, 0, rank) - t.unsqueeze(1)).clamp_min(Scalars.Zero) * alpha;
    }
}
