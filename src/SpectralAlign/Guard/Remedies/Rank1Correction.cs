using SpectralAlign.Spectral;
using TorchSharp;
using static TorchSharp.torch;

namespace SpectralAlign.Guard.Remedies;

/// <summary>
/// W ← W − (σ₁ − τ)·u₁v₁ᵀ for each group: the top singular value becomes τ and every other singular triplet (and
/// u₁, v₁) stays as it was, so when τ ≥ σ₂ the spectral norm becomes exactly τ. A group whose σ₁ is already at most τ
/// is left alone (the correction never raises σ₁). u₁, v₁, σ₁ come from <see cref="TopSubspace"/> warm-started from
/// the monitor's v1; O(m·n) per iteration.
/// </summary>
/// <param name="targets">τ per group (one value applies to every group); finite and ≥ 0.</param>
internal sealed class Rank1Correction(IReadOnlyList<double> targets) : ISpectralRemedy
{
    public string Name => "Rank1";

    public RemedyProposal Propose(Tensor w, Tensor? warm, RemedySettings settings)
    {
        long groups = w.shape[0];
        if (targets.Count != 1 && targets.Count != groups)
            return RemedyProposal.Refuse($"{targets.Count} targets for {groups} groups");
        if (targets.Any(t => !(t >= 0) || !double.IsFinite(t)))
            return RemedyProposal.Refuse("the target spectral norm must be finite and non-negative");
        var tau = tensor(targets.Count == 1 ? Enumerable.Repeat(targets[0], (int)groups).ToArray() : targets.ToArray(), ScalarType.Float64)
            .to(w.dtype).to(w.device);
        int p = (int)Math.Min(Math.Min(w.shape[1], w.shape[2]), 2 + settings.Oversampling);
        // The edit's error is about (σ₁ − τ)·‖error of u₁v₁ᵀ‖: the residual of u₁, v₁ weighted by how far σ₁ moves.
        var top = TopSubspace.Solve(w, p, 1, warm, settings.MaxIterations, settings.Tolerance(w.dtype), settings.Seed,
            (s, norms) => TopSubspace.RelativeResidual(s, norms, 1).squeeze(1) * ((s.select(1, 0) - tau).clamp_min(Scalars.Zero) / s.select(1, 0).clamp_min(TopSubspace.Epsilon)).clamp_min(TopSubspace.MovementFloor));
        if (!top.Converged)
            return RemedyProposal.Refuse($"the top singular vector did not converge in {top.Iterations} iterations (residual {top.Residual:G3})", top.Iterations);

        var sigma1 = top.S.select(1, 0);
        var shrink = (sigma1 - tau).clamp_min(Scalars.Zero);                                  // (G)
        var u1 = top.U.narrow(2, 0, 1);                                             // (G, m, 1)
        var v1 = top.V.narrow(2, 0, 1);                                             // (G, n, 1)
        var corrected = w - shrink.view(groups, 1, 1) * bmm(u1, v1.transpose(1, 2));
        var after = p > 1 ? maximum(sigma1 - shrink, top.S.select(1, 1)) : sigma1 - shrink;
        return new RemedyProposal(corrected, null, DeviceTransfer.Number(sigma1.max()), DeviceTransfer.Number(after.max()), top.Iterations);
    }
}
