using SpectralAlign.Spectral;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace SpectralAlign.Guard.Remedies;

/// <summary>
/// Applies an <see cref="ISpectralRemedy"/> to a live weight, on the weight's device, under <c>no_grad</c>, all or
/// nothing: a non-floating, empty, non-finite or all-zero weight is refused untouched; the remedy computes on a copy;
/// a proposal that is not finite in the weight's dtype is refused; only then is the weight overwritten (one in-place
/// copy), followed by the optimizer-state policy, and if that fails the weight is put back.
/// </summary>
internal static class WeightEditor
{
    /// <summary>The optimizer-state part of an edit.</summary>
    /// <param name="Optimizer">The optimizer.</param>
    /// <param name="Owner">The parameter the weight is a view of.</param>
    /// <param name="Policy">What to do with the corrected elements' state.</param>
    /// <param name="Scale">First-moment factor for <see cref="MomentPolicy.Rescale"/>.</param>
    public sealed record Moments(OptimizerHelper Optimizer, Parameter Owner, MomentPolicy Policy, double Scale);

    /// <summary>Applies <paramref name="remedy"/> to <paramref name="weight"/>.</summary>
    /// <param name="weight">(G, m, n) view of the live parameter; written in place when the remedy applies.</param>
    /// <param name="remedy">The remedy.</param>
    /// <param name="warm">(G, n, k) start vectors for the top right singular subspace, or <c>null</c>.</param>
    /// <param name="settings">Iteration limits.</param>
    /// <param name="moments">The optimizer-state policy, or <c>null</c> to leave the state alone.</param>
    /// <param name="beforeMoments">Test seam, called after the weight is written and before the optimizer state is.</param>
    public static RemedyResult Apply(Tensor weight, ISpectralRemedy remedy, Tensor? warm, RemedySettings settings, Moments? moments = null, Action? beforeMoments = null)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        if (!weight.is_floating_point())
            return RemedyResult.Refused($"the weight is {weight.dtype}, not floating point");
        if (weight.dim() != 3 || weight.numel() == 0)
            return RemedyResult.Refused("the weight is not a non-empty (groups, m, n) stack");
        var computeType = RemedySettings.ComputeType(weight.dtype);
        var w = weight.detach().to(computeType);
        if (!DeviceTransfer.Item<bool>(isfinite(w).all()))
            return RemedyResult.Refused("the weight has non-finite values");
        if (DeviceTransfer.Number(w.abs().max()) == 0)
            return RemedyResult.Refused("the weight is zero");

        var proposal = remedy.Propose(w, warm, settings);
        if (proposal.Weight is null)
            return RemedyResult.Refused(proposal.Problem ?? "refused", proposal.Iterations);
        var replacement = proposal.Weight.to(weight.dtype);
        if (!DeviceTransfer.Item<bool>(isfinite(replacement).all()))
            return RemedyResult.Refused($"the corrected weight is not finite in {weight.dtype}", proposal.Iterations);

        MomentEdit? edit = null;
        string? momentProblem = null;
        if (moments is not null && moments.Policy != MomentPolicy.Keep)
            momentProblem = MomentEdit.TryPrepare(moments.Optimizer, moments.Owner, weight, out edit);

        var original = weight.detach().clone();
        weight.copy_(replacement);
        try
        {
            beforeMoments?.Invoke();
            edit?.Apply(moments!.Policy, moments.Scale);
        }
        catch
        {
            weight.copy_(original);
            throw;
        }

        return new RemedyResult(true, null, proposal.SpectralNormBefore, proposal.SpectralNormAfter, proposal.Iterations, momentProblem);
    }
}
