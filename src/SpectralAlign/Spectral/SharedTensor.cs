using static TorchSharp.torch;

namespace SpectralAlign.Spectral;

/// <summary>
/// A tensor of one measurement shared by the states of a bucket's layers (each holds a <see cref="StateSlice"/> of
/// it), so that keeping a bucket's warm state costs no tensor operation per layer. Reference-counted: the creator
/// holds the first reference, each slice one more; the tensor is disposed when the last is released.
/// </summary>
internal sealed class SharedTensor
{
    private int _references = 1;

    /// <param name="value">The tensor (detached from the current dispose scope; owned from now on).</param>
    public SharedTensor(Tensor value) => Value = value.DetachFromDisposeScope();

    /// <summary>The shared tensor (valid while a reference is held).</summary>
    public Tensor Value { get; }

    public void AddReference() => Interlocked.Increment(ref _references);

    public void Release()
    {
        if (Interlocked.Decrement(ref _references) == 0)
            Value.Dispose();
    }
}
