using TorchSharp.Modules;
using static TorchSharp.torch;

namespace SpectralAlign.Hooks;

/// <summary>
/// Turns a module into what the rest of the monitor works with: a 2-D weight matrix W (out × in, applied as x·Wᵀ)
/// and a hook that delivers the module's input rows. Everything after the hooks sees only matrices and rows.
/// </summary>
internal sealed class LayerAdapter
{
    private readonly Func<Tensor?> _weight;

    private LayerAdapter(nn.Module<Tensor, Tensor> module, string kind, int outFeatures, int inFeatures, Func<Tensor?> weight)
    {
        Module = module;
        Kind = kind;
        OutFeatures = outFeatures;
        InFeatures = inFeatures;
        _weight = weight;
    }

    public nn.Module<Tensor, Tensor> Module { get; }

    public string Kind { get; }

    public int OutFeatures { get; }

    public int InFeatures { get; }

    /// <summary>The current weight (looked up at every measurement, so a replaced parameter is followed).</summary>
    public Tensor? CurrentWeight() => _weight();

    /// <summary>Whether <see cref="TryCreate"/> would accept the module.</summary>
    public static bool IsSupported(nn.Module module) => TryCreate(module, out _, out _);

    /// <summary>Creates the adapter, or explains in <paramref name="problem"/> why the module cannot be watched.</summary>
    public static bool TryCreate(nn.Module module, out LayerAdapter? adapter, out string problem)
    {
        adapter = null;
        string typeName = module.GetType().Name;
        if (module is Linear linear)
        {
            var w = linear.weight;
            if (w is null)
            {
                problem = "the Linear layer has no weight";
                return false;
            }

            adapter = new LayerAdapter(linear, nameof(Linear), (int)w.shape[0], (int)w.shape[1], () => linear.weight);
            problem = "";
            return true;
        }

        if (module is Embedding or EmbeddingBag)
        {
            problem = $"{typeName} looks rows up by index instead of computing x·Wᵀ, so it has no input rows to align";
            return false;
        }

        var weight = module.named_parameters(false).Where(p => p.name == "weight").Select(p => p.parameter).FirstOrDefault();
        if (weight is null)
        {
            problem = $"{typeName} has no parameter named 'weight'; only modules that compute x·Wᵀ with a 2-D weight can be watched";
            return false;
        }

        if (weight.dim() != 2)
        {
            problem = $"{typeName}'s weight has {weight.dim()} dimensions ({string.Join("x", weight.shape)}); only a 2-D weight (out × in) applied as x·Wᵀ can be watched";
            return false;
        }

        if (module is not nn.Module<Tensor, Tensor> tensorModule)
        {
            problem = $"{typeName} does not take a single tensor input, so its input rows cannot be captured by a hook";
            return false;
        }

        adapter = new LayerAdapter(
            tensorModule,
            typeName,
            (int)weight.shape[0],
            (int)weight.shape[1],
            () => tensorModule.named_parameters(false).Where(p => p.name == "weight").Select(p => (Tensor)p.parameter).FirstOrDefault());
        problem = "";
        return true;
    }

    /// <summary>Registers a forward pre-hook that hands every input to <paramref name="onInput"/> and never changes
    /// it. Disposing the result removes the hook.</summary>
    public IDisposable Attach(Action<nn.Module, Tensor> onInput)
    {
        var remover = Module.register_forward_pre_hook((module, input) =>
        {
            onInput(module, input);
            return null!;
        });
        return new HookHandle(remover);
    }

    private sealed class HookHandle(nn.HookableModule<Func<nn.Module<Tensor, Tensor>, Tensor, Tensor>, Func<nn.Module<Tensor, Tensor>, Tensor, Tensor, Tensor>>.HookRemover remover) : IDisposable
    {
        private int _removed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _removed, 1) == 0)
                remover.remove();
        }
    }
}
