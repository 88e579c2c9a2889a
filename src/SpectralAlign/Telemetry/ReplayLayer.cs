using TorchSharp.Modules;
using static TorchSharp.torch;

namespace SpectralAlign.Telemetry;

/// <summary>A stand-in for a captured layer: holds the saved weight as its 2-D <c>weight</c> and returns its input
/// unchanged, so a monitor watching it sees exactly the saved rows and weight.</summary>
internal sealed class ReplayLayer : nn.Module<Tensor, Tensor>
{
    private readonly Parameter _weight;

    public ReplayLayer(long[] weightShape, ScalarType dtype) : base(nameof(ReplayLayer))
    {
        _weight = new Parameter(zeros(weightShape, dtype: dtype), requires_grad: false);
        register_parameter("weight", _weight);
    }

    public void SetWeight(Tensor weight)
    {
        using var noGrad = no_grad();
        _weight.copy_(weight);
    }

    public override Tensor forward(Tensor input) => input.alias();
}
