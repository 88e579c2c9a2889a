using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace SpectralAlign.Scenarios.Training;

/// <summary>
/// TorchSharp 0.107's <c>AdamW.step()</c> (no AMSGrad, no maximize) with every <see cref="Scalar"/> operand kept
/// alive until the native call that reads it has returned: the same native calls, with the same operand values, in
/// the same order, on the optimizer's own state, so the result is the same bit for bit (<c>AdamWStepTests</c>).
/// </summary>
/// <remarks>
/// <c>AdamW.step()</c> turns its hyper-parameters (<c>1 − lr·λ</c>, β, 1 − β, √(1 − β₂ᵗ), ε, −lr/(1 − β₁ᵗ)) into
/// temporary Scalars that nothing keeps alive during the native call that reads them. A garbage collection started by
/// another thread during that call can finalise one and free the value libtorch is reading: an intermittent "Expected
/// false to be true" or "Unknown scalar type" thrown from <c>step()</c> (README, "Threading"). The update is the
/// part of a step that makes the most of these calls (eight per parameter), so the scenario loop runs this one.
/// </remarks>
public static class AdamWStep
{
    /// <summary>True when <paramref name="optimizer"/> is TorchSharp's <see cref="AdamW"/> with AMSGrad and maximize
    /// off in every parameter group (the form <see cref="Run"/> implements).</summary>
    /// <param name="optimizer">The optimizer.</param>
    /// <returns>Whether <see cref="Run"/> applies.</returns>
    public static bool Supports(optim.Optimizer optimizer) =>
        optimizer?.GetType() == typeof(AdamW)
        && optimizer.ParamGroups.All(g => g is ParamGroup { Options: AdamW.Options { amsgrad: false, maximize: false } });

    /// <summary>One AdamW update of every parameter with a gradient.</summary>
    /// <param name="optimizer">An optimizer that <see cref="Supports"/> accepts.</param>
    /// <exception cref="NotSupportedException">Another optimizer, or AMSGrad or maximize on.</exception>
    public static void Run(optim.Optimizer optimizer)
    {
        if (!Supports(optimizer))
            throw new NotSupportedException($"The kept-Scalar update implements AdamW without AMSGrad or maximize, not {optimizer?.GetType().Name ?? "null"}.");

        // The optimizer's live per-parameter states, in the order of its groups and their parameters.
        var states = ((AdamW)optimizer).state_dict().State;
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        using var one = 1.ToScalar();
        int index = 0;
        foreach (var group in optimizer.ParamGroups.Cast<ParamGroup>())
        {
            var options = (AdamW.Options)group.Options;
            double beta1 = options.beta1!.Value, beta2 = options.beta2!.Value, lr = options.LearningRate!.Value;
            using var decay = (1 - lr * options.weight_decay!.Value).ToScalar();
            using var beta1Scalar = beta1.ToScalar();
            using var beta2Scalar = beta2.ToScalar();
            using var oneMinusBeta1 = (1 - beta1).ToScalar();
            using var oneMinusBeta2 = (1 - beta2).ToScalar();
            using var eps = options.eps!.Value.ToScalar();
            foreach (var param in group.Parameters)
            {
                var state = (AdamW.State)states[index++];
                var grad = param.grad;
                if (grad is null)
                    continue;

                state.step += 1;
                param.mul_(decay);
                double biasCorrection1 = 1 - Math.Pow(beta1, state.step);
                double biasCorrection2 = 1 - Math.Pow(beta2, state.step);
                state.exp_avg.mul_(beta1Scalar).add_(grad, oneMinusBeta1);
                state.exp_avg_sq.mul_(beta2Scalar).addcmul_(grad, grad, oneMinusBeta2);
                using var root = Math.Sqrt(biasCorrection2).ToScalar();
                var denom = state.exp_avg_sq.sqrt().div(root).add_(eps, one);
                using var stepSize = (-(lr / biasCorrection1)).ToScalar();
                param.addcdiv_(state.exp_avg, denom, stepSize);
            }
        }
    }
}
