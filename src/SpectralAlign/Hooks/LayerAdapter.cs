using static TorchSharp.torch;

namespace SpectralAlign.Hooks;

/// <summary>
/// Turns a module into what the rest of the monitor works with: one or more <see cref="LayerView"/>s (weight
/// matrices applied as x·Wᵀ) and hooks that deliver each view's input rows. Everything after the hooks sees only
/// matrices and rows. Create adapters with <see cref="LayerAdapters.TryCreate"/>.
/// </summary>
internal abstract class LayerAdapter(nn.Module module, string kind)
{
    /// <summary>The watched module.</summary>
    public nn.Module Module { get; } = module;

    /// <summary>The module's kind, for messages.</summary>
    public string Kind { get; } = kind;

    /// <summary>The measured views, in a fixed order.</summary>
    public abstract IReadOnlyList<LayerView> Views { get; }

    /// <summary>Registers the hooks, all or nothing (through <see cref="HookSet.Register"/>): if one registration
    /// throws, none of them stays. Disposing the result removes them. Hooks never modify inputs or outputs.</summary>
    public abstract HookSet Attach(IInputReceiver receiver);

    /// <summary>Registers the pre-hook of a single-tensor module: returns at once unless the receiver wants this
    /// call, then runs <paramref name="capture"/> on the input (guarded by <see cref="Run"/>).</summary>
    protected static HookSet AttachPreHook(nn.Module<Tensor, Tensor> module, IInputReceiver receiver, Action<Tensor> capture) =>
        HookSet.Register(hooks => module.register_forward_pre_hook((m, input) =>
        {
            if (hooks.Enter() && receiver.BeginCall(m))
                Run(receiver, () => capture(input));
            return null!;
        }).remove);

    /// <summary>Runs a hook's capture work under <c>no_grad</c> and a dispose scope; an exception is reported to the
    /// receiver and never reaches the user's forward pass.</summary>
    protected static void Run(IInputReceiver receiver, Action body)
    {
        try
        {
            using var noGrad = no_grad();
            using var scope = NewDisposeScope();
            body();
        }
#pragma warning disable CA1031 // An exception escaping a hook would abort the user's forward pass.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            receiver.Fail(ex);
        }
    }

    /// <summary>Whether a tensor can serve as input rows of width <paramref name="width"/>.</summary>
    protected static bool IsUsable(Tensor? input, int width) =>
        input is not null && input.is_floating_point() && input.dim() >= 1 && input.size(-1) == width;
}
