using static TorchSharp.torch;

namespace SpectralAlign.Hooks;

/// <summary>Where an adapter's hook delivers what it sees. Implemented by the monitor.</summary>
internal interface IInputReceiver
{
    /// <summary>Called at the start of every hooked call; returns whether this call's inputs should be captured
    /// (a measured step, training mode, not disposed, and some view of the watch still has room in its sample). Must be
    /// cheap: it runs on every forward.</summary>
    bool BeginCall(nn.Module module);

    /// <summary>Delivers the rows of view <paramref name="view"/>, (G, N, n), built only for the rows the sample keeps;
    /// <paramref name="recovery"/>, if given, is called only when some of them are kept (so what it copies is copied
    /// only then), and what it makes is applied to the subsampled rows at <c>Step()</c> (e.g. to recover an internal
    /// input from an output) and disposed by the receiver.</summary>
    void Deliver(int view, RowSource rows, Func<RowRecovery>? recovery = null);

    /// <summary>Reports an input that cannot be used (wrong type or width).</summary>
    void Reject(int view, Tensor input);

    /// <summary>Reports an exception thrown while capturing; the hook swallows it so the forward pass continues.</summary>
    void Fail(Exception exception);
}
