using static TorchSharp.torch;

namespace SpectralAlign.Hooks;

/// <summary>
/// One hooked call's input rows for a view, (G, N, n), as the capture needs them: counted without being built, and
/// built only for the rows the sample keeps, so that the hook's work scales with the sample, never with the whole
/// input (a convolution's patches, for one, are about Πk times the input).
/// </summary>
internal abstract class RowSource
{
    /// <summary>N, the number of rows.</summary>
    public abstract long Count { get; }

    /// <summary>The device of the rows, on which <see cref="Select"/> takes its indices.</summary>
    public abstract Device Device { get; }

    /// <summary>The rows at <paramref name="index"/> (int64 on <see cref="Device"/>), in its order, as a new
    /// (G, index length, n) tensor that shares no memory with the input, in the caller's dispose scope.</summary>
    public abstract Tensor Select(Tensor index);

    /// <summary>All N rows, in order, as a new tensor that shares no memory with the input, in the caller's dispose
    /// scope.</summary>
    public abstract Tensor CopyAll();

    /// <summary>The rows of a (G, N, n) tensor (or a view of the input).</summary>
    public static RowSource Of(Tensor rows) => new TensorRows(rows);
}
