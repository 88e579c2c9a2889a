using static TorchSharp.torch;

namespace SpectralAlign.Hooks;

/// <summary>
/// Measures saved material (offline analysis): the module's input is already a (G, rows, n) stack of the rows a view
/// captured, and its weight a (G, m, n) stack; the hook hands the input over as it is.
/// </summary>
internal sealed class ReplayAdapter : LayerAdapter
{
    private readonly nn.Module<Tensor, Tensor> _module;
    private readonly LayerView _view;

    public ReplayAdapter(nn.Module<Tensor, Tensor> module, string name, int groups, int outFeatures, int inFeatures, Func<Tensor?> weight)
        : base(module, "Replay")
    {
        _module = module;
        _view = new LayerView(name, Kind, groups, outFeatures, inFeatures, weight);
    }

    public override IReadOnlyList<LayerView> Views => [_view];

    public override HookSet Attach(IInputReceiver receiver) => AttachPreHook(_module, receiver, input =>
    {
        var rows = input.dim() == 2 ? input.unsqueeze(0) : input;
        if (rows.dim() == 3 && rows.shape[0] == _view.Groups && IsUsable(rows, _view.InFeatures))
            receiver.Deliver(0, rows);
        else
            receiver.Reject(0, input);
    });
}
