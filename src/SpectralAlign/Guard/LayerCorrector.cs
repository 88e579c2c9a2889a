using SpectralAlign.Guard.Remedies;
using SpectralAlign.Guard.Snapshots;
using SpectralAlign.Spectral;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace SpectralAlign.Guard;

/// <summary>Applies the configured spectral remedy to one watched layer, by name, and reports what happened.</summary>
internal sealed class LayerCorrector(MonitorLayerAccess layers, nn.Module model, OptimizerHelper optimizer, TrainingGuardOptions options, RemedySettings settings)
{
    /// <summary>Corrects <paramref name="layer"/> with <paramref name="correction"/>.</summary>
    /// <param name="layer">A watched layer's name.</param>
    /// <param name="correction">The remedy (not <see cref="SpectralCorrection.None"/>).</param>
    /// <param name="reference">For <see cref="SpectralCorrection.Rank1"/>, the snapshot whose σ₁ is the target.</param>
    public LayerCorrection Correct(string layer, SpectralCorrection correction, TrainingSnapshot? reference)
    {
        using var scope = NewDisposeScope();
        var weight = layers.FindWeight(layer, out var problem);
        if (weight is null)
            return Refused(problem ?? "no weight");
        using var basis = layers.CopyBasis(layer);
        ISpectralRemedy remedy;
        switch (correction)
        {
            case SpectralCorrection.Rank1:
                var targets = reference is null ? null : SpectralNormsIn(reference, weight, basis, out problem);
                if (targets is null)
                    return Refused(problem ?? "no snapshot to take the target σ1 from");
                remedy = new Rank1Correction(targets);
                break;
            case SpectralCorrection.Smooth:
                remedy = new SpectrumSmoothing(options.SmoothingRank, options.SmoothingTarget, options.SmoothingStrength);
                break;
            case SpectralCorrection.MatrixSign:
                remedy = new MatrixSignStep(options.MatrixSignMix);
                break;
            default:
                return Refused($"{correction} is not a remedy");
        }

        var moments = options.Moments == MomentPolicy.Keep || weight.Owner is null ? null : new WeightEditor.Moments(optimizer, weight.Owner, options.Moments, options.MomentScale);
        var result = WeightEditor.Apply(weight.View, remedy, basis, settings, moments);
        string? momentProblem = options.Moments != MomentPolicy.Keep && weight.Owner is null ? "the parameter the weight belongs to was not found" : result.MomentProblem;
        return new LayerCorrection(layer, correction, result.Applied, result.SpectralNormBefore, result.SpectralNormAfter, result.Problem ?? momentProblem);

        LayerCorrection Refused(string why) => new(layer, correction, false, double.NaN, double.NaN, why);
    }

    /// <summary>σ₁ of each group of the layer's weight as the snapshot holds it.</summary>
    private double[]? SpectralNormsIn(TrainingSnapshot snapshot, LayerWeight weight, Tensor? basis, out string? problem)
    {
        problem = null;
        if (weight.Owner is null)
        {
            problem = "the parameter the weight belongs to was not found";
            return null;
        }

        string? key = model.named_parameters().Where(p => p.parameter.Handle == weight.Owner.Handle).Select(p => p.name).FirstOrDefault();
        if (key is null || !snapshot.Tensors.TryGetValue(key, out var copy))
        {
            problem = "the layer's parameter is not in the snapshot";
            return null;
        }

        var region = TensorRegion.Corresponding(weight.View, weight.Owner, copy);
        if (region is null)
        {
            problem = "the snapshot's copy is not laid out like the parameter";
            return null;
        }

        var w = region.to(RemedySettings.ComputeType(region.dtype));
        if (!DeviceTransfer.Item<bool>(isfinite(w).all()))
        {
            problem = "the snapshot's weight is not finite";
            return null;
        }

        int p = (int)Math.Min(Math.Min(w.shape[1], w.shape[2]), 1 + settings.Oversampling);
        var top = TopSubspace.Solve(w, p, 1, basis?.to(w.device), settings.MaxIterations, settings.Tolerance(w.dtype), settings.Seed);
        if (!top.Converged)
        {
            problem = "σ1 of the snapshot's weight did not converge";
            return null;
        }

        return DeviceTransfer.Values<double>(top.S.select(1, 0).to(ScalarType.Float64));
    }
}
