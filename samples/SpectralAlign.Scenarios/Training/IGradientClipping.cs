using TorchSharp;
using TorchSharp.Modules;

namespace SpectralAlign.Scenarios.Training;

/// <summary>
/// A gradient-clipping policy for <see cref="TrainingLoop"/>: called after backward with the global gradient norm,
/// before the optimizer step; may scale the gradients in place.
/// </summary>
public interface IGradientClipping
{
    /// <summary>Clips the gradients of one step.</summary>
    /// <param name="parameters">The model's parameters (their <c>grad</c> is set).</param>
    /// <param name="gradNorm">The global L2 norm of all gradients before clipping (finite).</param>
    /// <returns>The global norm after clipping (<paramref name="gradNorm"/> when nothing was clipped).</returns>
    double Clip(IReadOnlyList<Parameter> parameters, double gradNorm);
}

/// <summary>Helpers shared by the clipping policies.</summary>
internal static class Gradients
{
    /// <summary>Multiplies every gradient by <paramref name="factor"/>.</summary>
    public static void Scale(IReadOnlyList<Parameter> parameters, double factor)
    {
        using var noGrad = TorchSharp.torch.no_grad();
        using var scale = factor.ToScalar();
        foreach (var p in parameters)
            p.grad?.mul_(scale);
    }
}
