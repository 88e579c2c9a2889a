using TorchSharp.Modules;
using static TorchSharp.torch;

namespace SpectralAlign.Hooks;

/// <summary>
/// TorchSharp's <c>MultiheadAttention</c> packs the q, k and v projections into one <c>in_proj_weight</c> (or keeps
/// separate <c>q/k/v_proj_weight</c> when kdim/vdim differ) and runs natively. Measured as four views:
/// <c>name.q</c>, <c>name.k</c>, <c>name.v</c> (inputs: the query, key and value rows) and <c>name.out</c>, the
/// output projection, whose input (the heads' concatenated attention output) never leaves the native code: it is
/// recovered from the module's output as (y − b)·pinv(W_o)ᵀ, exact whenever W_o is invertible. The hook only copies
/// W_o and b as they are in the forward pass, and only for a call whose rows the sample keeps; the pseudo-inverse (an
/// SVD) is computed at <c>Step()</c>, for the subsampled rows only.
/// </summary>
internal sealed class AttentionAdapter : LayerAdapter
{
    private readonly MultiheadAttention _attention;
    private readonly LayerView[] _views;
    private readonly int _embed, _kdim, _vdim;

    public AttentionAdapter(MultiheadAttention attention, string name) : base(attention, nameof(MultiheadAttention))
    {
        _attention = attention;
        var shapes = Parameters().ToDictionary(p => p.Name, p => p.Shape);
        if (shapes.TryGetValue("in_proj_weight", out var packed))
        {
            _embed = (int)packed[1];
            _kdim = _vdim = _embed;
        }
        else
        {
            _embed = (int)shapes["q_proj_weight"][1];
            _kdim = (int)shapes["k_proj_weight"][1];
            _vdim = (int)shapes["v_proj_weight"][1];
        }

        _views =
        [
            new LayerView($"{name}.q", $"{Kind}.q", 1, _embed, _embed, () => Projection(0, "q_proj_weight")),
            new LayerView($"{name}.k", $"{Kind}.k", 1, _embed, _kdim, () => Projection(1, "k_proj_weight")),
            new LayerView($"{name}.v", $"{Kind}.v", 1, _embed, _vdim, () => Projection(2, "v_proj_weight")),
            new LayerView($"{name}.out", $"{Kind}.out", 1, _embed, _embed, () => Parameter("out_proj.weight")),
        ];
    }

    public override IReadOnlyList<LayerView> Views => _views;

    public override HookSet Attach(IInputReceiver receiver) => HookSet.Register(
        hooks => _attention.register_forward_pre_hook((module, query, key, value, _, _, _) =>
        {
            if (hooks.Enter() && receiver.BeginCall(module))
            {
                Run(receiver, () =>
                {
                    DeliverRows(receiver, 0, query, _embed);
                    DeliverRows(receiver, 1, key, _kdim);
                    DeliverRows(receiver, 2, value, _vdim);
                });
            }

            return null;
        }).remove,
        hooks => _attention.register_forward_hook((module, _, _, _, _, _, _, output) =>
        {
            if (hooks.Enter() && receiver.BeginCall(module))
            {
                Run(receiver, () =>
                {
                    if (IsUsable(output.Item1, _embed))
                        receiver.Deliver(3, RowSource.Of(output.Item1.reshape(1, -1, _embed)), ProjectionInputRecovery);
                    else
                        receiver.Reject(3, output.Item1);
                });
            }

            return null!;
        }).remove);

    private static void DeliverRows(IInputReceiver receiver, int view, Tensor input, int width)
    {
        if (IsUsable(input, width))
            receiver.Deliver(view, RowSource.Of(input.reshape(1, -1, width)));
        else
            receiver.Reject(view, input);
    }

    /// <summary>(y − b)·pinv(W_o)ᵀ for the subsampled output rows (G = 1, rows, E), with W_o and b copied now. Called
    /// by the capture only when it keeps this call's rows (so once per measured step when the first call fills the
    /// sample, and never on unmeasured steps or once the sample is full).</summary>
    private RowRecovery ProjectionInputRecovery()
    {
        // A copy, not a reference: the rows are recovered at Step(), after optimizer.step() has updated W_o and b in
        // place, and (y − b)·pinv(W_o)ᵀ is the projection's input only with the W_o and b that produced y.
        var w = Parameter("out_proj.weight")!.detach().clone().DetachFromDisposeScope();
        var b = Parameter("out_proj.bias")?.detach().clone().DetachFromDisposeScope();
        return new RowRecovery(
            outputRows =>
            {
                var y = outputRows.to(ScalarType.Float64);
                if (b is not null)
                    y = y - b.to(ScalarType.Float64);
                return y.matmul(linalg.pinv(w.to(ScalarType.Float64)).t()).to(ScalarType.Float32);
            },
            w,
            b);
    }

    private Tensor? Projection(int index, string separateName) =>
        Parameter("in_proj_weight") is { } packed ? packed.narrow(0, index * _embed, _embed) : Parameter(separateName);

    private Tensor? Parameter(string name) =>
        _attention.named_parameters().Where(p => p.name == name).Select(p => (Tensor)p.parameter).FirstOrDefault();

    private IEnumerable<(string Name, long[] Shape)> Parameters() =>
        _attention.named_parameters().Select(p => (p.name, p.parameter.shape));
}
