using static TorchSharp.torch;

namespace SpectralAlign.Hooks;

/// <summary>Rows that are already a (G, N, n) tensor (a Linear's or an attention projection's input, reshaped).</summary>
internal sealed class TensorRows(Tensor rows) : RowSource
{
    public override long Count => rows.size(1);

    public override Device Device => rows.device;

    public override Tensor Select(Tensor index) => rows.index_select(1, index);

    public override Tensor CopyAll() => rows.clone();
}
