using static TorchSharp.torch;

namespace SpectralAlign.Hooks;

/// <summary>
/// Turns captured rows into the view's actual input rows at <c>Step()</c>, never in the forward hook (e.g. an
/// attention out-projection's input recovered from its output, which needs a decomposition): it owns the tensors it
/// needs, copied in the hook (e.g. the weight as it was during the forward pass), and releases them when disposed.
/// </summary>
internal sealed class RowRecovery(Func<Tensor, Tensor> apply, params Tensor?[] owned) : IDisposable
{
    /// <summary>The recovered rows of <paramref name="rows"/> (in the caller's dispose scope).</summary>
    public Tensor Apply(Tensor rows) => apply(rows);

    public void Dispose()
    {
        foreach (var tensor in owned)
            tensor?.Dispose();
    }
}
