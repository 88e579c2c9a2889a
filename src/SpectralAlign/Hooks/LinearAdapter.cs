using static TorchSharp.torch;

namespace SpectralAlign.Hooks;

/// <summary>
/// A single-tensor module that computes x·Wᵀ with a 2-D weight: <c>Linear</c>, a custom module with a
/// <c>weight</c> parameter, or any module with a user-supplied weight and input selector (e.g. a tied LM head).
/// Optionally split into row-range views (a fused q/k/v projection).
/// </summary>
internal sealed class LinearAdapter : LayerAdapter
{
    private readonly nn.Module<Tensor, Tensor> _module;
    private readonly Func<Tensor, Tensor>? _inputSelector;
    private readonly int _inFeatures;
    private readonly LayerView[] _views;

    public LinearAdapter(nn.Module<Tensor, Tensor> module, string kind, string name, Func<Tensor?> weight, int outFeatures, int inFeatures,
        IReadOnlyList<WeightSlice>? slices = null, Func<Tensor, Tensor>? inputSelector = null)
        : base(module, kind)
    {
        _module = module;
        _inputSelector = inputSelector;
        _inFeatures = inFeatures;
        _views = slices is null || slices.Count == 0
            ? [new LayerView(name, kind, 1, outFeatures, inFeatures, weight)]
            : slices.Select(s => new LayerView($"{name}.{s.Name}", $"{kind}[{s.Start}..{(long)s.Start + s.Length}]", 1, s.Length, inFeatures,
                () => weight() is { } w && w.dim() == 2 && w.shape[0] >= (long)s.Start + s.Length ? w.narrow(0, s.Start, s.Length) : null)).ToArray();
    }

    public override IReadOnlyList<LayerView> Views => _views;

    public override HookSet Attach(IInputReceiver receiver) => AttachPreHook(_module, receiver, input => Capture(receiver, input));

    private void Capture(IInputReceiver receiver, Tensor input)
    {
        var source = _inputSelector is null ? input : _inputSelector(input);
        if (!IsUsable(source, _inFeatures))
        {
            receiver.Reject(0, source);
            return;
        }

        var rows = RowSource.Of(source.reshape(1, -1, _inFeatures));
        for (int v = 0; v < _views.Length; v++)
            receiver.Deliver(v, rows);
    }
}
