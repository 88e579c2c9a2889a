using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace SpectralAlign.Hooks;

/// <summary>
/// <c>Conv1d</c> and <c>Conv2d</c>: the weight (out, in/groups, k…) is read as G = groups matrices of
/// (out/groups) × (in/groups·Πk), and the samples are the input patches the kernel actually sees (the layer's own
/// padding mode, padding, dilation and stride, unfolded per group). The SA distribution pools every (patch, group)
/// pair, each group against its own v1.
/// </summary>
internal sealed class ConvolutionAdapter : LayerAdapter
{
    private readonly Convolution _conv;
    private readonly int _spatial;
    private readonly LayerView _view;

    public ConvolutionAdapter(Convolution conv, string name) : base(conv, conv.GetType().Name)
    {
        _conv = conv;
        _spatial = conv.kernel_size.Length;
        int groups = (int)conv.groups;
        int n = (int)(conv.in_channels / groups * conv.kernel_size.Aggregate(1L, (a, b) => a * b));
        _view = new LayerView(name, Kind, groups, (int)(conv.out_channels / groups), n, () => _conv.weight);
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

    /// <summary>The (G, B·L, n) patches of <paramref name="input"/>, in the weight's (channel, kernel…) order.</summary>
    internal Tensor Patches(Tensor input)
    {
        var x = input.dim() == _spatial + 1 ? input.unsqueeze(0) : input;
        x = x.to(ScalarType.Float32);
        var padding = Padding();
        if (padding.Any(p => p != 0))
        {
            x = _conv.padding_mode == PaddingModes.Zeros
                ? nn.functional.pad(x, padding, PaddingModes.Constant, 0)
                : nn.functional.pad(x, padding, _conv.padding_mode, 0);
        }

        long[] k = _conv.kernel_size, d = _conv.dilation, s = _conv.stride;
        Tensor columns = _spatial == 1
            ? nn.functional.unfold(x.unsqueeze(2), (1, k[0]), (1, d[0]), (0, 0), (1, s[0]))
            : nn.functional.unfold(x, (k[0], k[1]), (d[0], d[1]), (0, 0), (s[0], s[1]));
        long batch = columns.shape[0], positions = columns.shape[2];
        int groups = _view.Groups, n = _view.InFeatures;
        return columns.view(batch, groups, n, positions).permute(1, 0, 3, 2).reshape(groups, batch * positions, n);
    }

    /// <summary>F.pad's argument (last dimension first), as the convolution applies it.</summary>
    private long[] Padding()
    {
        var pads = new long[2 * _spatial];
        for (int i = 0; i < _spatial; i++)
        {
            long left, right;
            if (_conv.padding is { } p)
            {
                left = right = p[i];
            }
            else if (_conv.padding_type == TorchSharp.Padding.Same)
            {
                long total = _conv.dilation[i] * (_conv.kernel_size[i] - 1);
                left = total / 2;
                right = total - left;
            }
            else
            {
                left = right = 0;
            }

            int slot = 2 * (_spatial - 1 - i);
            pads[slot] = left;
            pads[slot + 1] = right;
        }

        return pads;
    }
}
