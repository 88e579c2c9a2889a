using TorchSharp.Modules;
using static TorchSharp.torch;

namespace SpectralAlign.Telemetry;

/// <summary>A stand-in for a captured layer: holds the saved (G, m, n) weight and returns its input unchanged, so a
/// monitor watching it (<see cref="SpectralMonitor.WatchReplay"/>) sees exactly the saved rows and weight.</summary>
internal sealed class ReplayLayer : nn.Module<Tensor, Tensor>
{
    private readonly Parameter _weight;

    public ReplayLayer(long[] weightShape, ScalarType dtype) : base(nameof(ReplayLayer))
    {
        // Captures of version 1 saved a Linear's weight as (m, n); they are one group.
        long[] shape = weightShape.Length == 2 ? [1, weightShape[0], weightShape[1]] : weightShape;
        _weight = new Parameter(zeros(shape, dtype: dtype), requires_grad: false);
        register_parameter("weight", _weight);
        Groups = (int)shape[0];
        OutFeatures = (int)shape[1];
        InFeatures = (int)shape[2];
    }

    public int Groups { get; }

    public int OutFeatures { get; }

    public int InFeatures { get; }

    public Tensor Weight => _weight;

    public void SetWeight(Tensor weight)
    {
        using var noGrad = no_grad();
        _weight.copy_(weight.reshape(_weight.shape));
    }

    public override Tensor forward(Tensor input) => input.alias();
}
