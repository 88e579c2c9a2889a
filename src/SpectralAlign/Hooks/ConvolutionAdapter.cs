using TorchSharp.Modules;
using static TorchSharp.torch;

namespace SpectralAlign.Hooks;

/// <summary>
/// <c>Conv1d</c> and <c>Conv2d</c>: the weight (out, in/groups, k…) is read as G = groups matrices of
/// (out/groups) × (in/groups·Πk), and the samples are the input patches the kernel actually sees (the layer's own
/// padding mode, padding, dilation and stride, unfolded per group), gathered from the input only for the sampled
/// rows (<see cref="ConvolutionPatches"/>). The SA distribution pools every (patch, group) pair, each group against its
/// own v1.
/// </summary>
internal sealed class ConvolutionAdapter : LayerAdapter
{
    private readonly Convolution _conv;
    private readonly int _spatial;
    private readonly LayerView _view;
    private readonly ConvolutionGeometry _geometry;

    public ConvolutionAdapter(Convolution conv, string name) : base(conv, conv.GetType().Name)
    {
        _conv = conv;
        _spatial = conv.kernel_size.Length;
        int groups = (int)conv.groups;
        int n = (int)(conv.in_channels / groups * conv.kernel_size.Aggregate(1L, (a, b) => a * b));
        _view = new LayerView(name, Kind, groups, (int)(conv.out_channels / groups), n, () => _conv.weight);
        _geometry = ConvolutionGeometry.Of(conv);
    }

    public override IReadOnlyList<LayerView> Views => [_view];

    public override HookSet Attach(IInputReceiver receiver) => AttachPreHook(_conv, receiver, input => Capture(receiver, input));

    private void Capture(IInputReceiver receiver, Tensor input)
    {
        if (!input.is_floating_point() || (input.dim() != _spatial + 2 && input.dim() != _spatial + 1) || input.shape[input.dim() - _spatial - 1] != _conv.in_channels)
            receiver.Reject(0, input);
        else
            receiver.Deliver(0, Patches(input));
    }

    /// <summary>The (G, B·L, n) patches of <paramref name="input"/> (batched or not), in the weight's (channel,
    /// kernel…) order, built only for the rows the capture keeps.</summary>
    internal ConvolutionPatches Patches(Tensor input) =>
        new(input.dim() == _spatial + 1 ? input.unsqueeze(0) : input, _geometry);
}
