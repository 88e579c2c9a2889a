using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace SpectralAlign.Guard.Remedies;

/// <summary>
/// Applies a <see cref="MomentPolicy"/> to the optimizer state of the elements of one parameter that a weight view
/// covers, all or nothing (the affected regions are copied first and put back if a write fails). Knows SGD, Adam and
/// AdamW, whose state TorchSharp exposes per parameter through <c>state_dict()</c>.
/// </summary>
internal sealed class MomentEdit
{
    private readonly List<(Tensor Region, bool First)> _regions = [];
    private readonly Action _resetStep;

    private MomentEdit(Action resetStep) => _resetStep = resetStep;

    /// <summary>Prepares the edit of <paramref name="owner"/>'s state where <paramref name="view"/> lies.</summary>
    /// <param name="optimizer">The optimizer.</param>
    /// <param name="owner">The parameter <paramref name="view"/> is a view of.</param>
    /// <param name="view">The corrected elements.</param>
    /// <param name="edit">The prepared edit, or <c>null</c> when the optimizer state cannot be edited.</param>
    /// <returns><c>null</c>, or why the state cannot be edited.</returns>
    public static string? TryPrepare(OptimizerHelper optimizer, Parameter owner, Tensor view, out MomentEdit? edit)
    {
        edit = null;
        var state = Find(optimizer, owner);
        if (state is null)
            return "the parameter is not optimized by this optimizer";
        bool whole = view.numel() == owner.numel();
        (Tensor? Tensor, bool First)[] moments;
        switch (state)
        {
            case Adam.State adam:
                moments = [(adam.exp_avg, true), (adam.exp_avg_sq, false), (adam.max_exp_avg_sq, false)];
                edit = new MomentEdit(whole ? () => adam.step = 0 : () => { });
                break;
            case AdamW.State adamW:
                moments = [(adamW.exp_avg, true), (adamW.exp_avg_sq, false), (adamW.max_exp_avg_sq, false)];
                edit = new MomentEdit(whole ? () => adamW.step = 0 : () => { });
                break;
            case SGD.State sgd:
                moments = [(sgd.momentum_buffer, true)];
                edit = new MomentEdit(() => { });
                break;
            default:
                return $"moments of {optimizer.GetType().Name} are not supported (SGD, Adam and AdamW are)";
        }

        foreach (var (tensor, first) in moments)
        {
            if (tensor is null)
                continue;
            var region = TensorRegion.Corresponding(view, owner, tensor);
            if (region is null)
            {
                edit = null;
                return "an optimizer moment is not laid out like its parameter";
            }

            edit._regions.Add((region, first));
        }

        return null;
    }

    /// <summary>Applies the policy; on failure puts every touched region back and rethrows.</summary>
    /// <param name="policy">What to do.</param>
    /// <param name="scale">The first-moment factor for <see cref="MomentPolicy.Rescale"/>.</param>
    public void Apply(MomentPolicy policy, double scale)
    {
        if (policy == MomentPolicy.Keep)
            return;
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var saved = _regions.Select(r => r.Region.clone()).ToArray();
        using var factor = scale.ToScalar();
        try
        {
            foreach (var (region, first) in _regions)
            {
                if (policy == MomentPolicy.Reset)
                    region.zero_();
                else if (first)
                    region.mul_(factor);
            }

            if (policy == MomentPolicy.Reset)
                _resetStep();
        }
        catch
        {
            for (int i = 0; i < saved.Length; i++)
                _regions[i].Region.copy_(saved[i]);
            throw;
        }
    }

    private static OptimizerState? Find(OptimizerHelper optimizer, Parameter owner)
    {
        var states = optimizer.state_dict().State;
        int index = 0;
        foreach (var group in optimizer.ParamGroups.OfType<ParamGroup>())
        {
            foreach (var p in group.Parameters)
            {
                if (p.Handle == owner.Handle)
                    return index < states.Count ? states[index] : null;
                index++;
            }
        }

        return null;
    }
}
