using TorchSharp.Modules;
using static TorchSharp.torch;

namespace SpectralAlign.Hooks;

/// <summary>Chooses the adapter for a module, or explains why it cannot be watched.</summary>
internal static class LayerAdapters
{
    public static bool TryCreate(nn.Module module, string name, out LayerAdapter? adapter, out string problem)
    {
        adapter = null;
        problem = "";
        string typeName = module.GetType().Name;
        switch (module)
        {
            case Linear linear when linear.weight is { } w:
                adapter = new LinearAdapter(linear, nameof(Linear), name, () => linear.weight, (int)w.shape[0], (int)w.shape[1]);
                return true;
            case Conv1d or Conv2d when module is Convolution { transposed: false } conv:
                adapter = new ConvolutionAdapter(conv, name);
                return true;
            case Convolution:
                problem = $"{typeName} is not supported (Conv1d and Conv2d are; transposed and 3-D convolutions are not)";
                return false;
            case MultiheadAttention attention:
                adapter = new AttentionAdapter(attention, name);
                return true;
            case Embedding or EmbeddingBag:
                problem = $"{typeName} looks rows up by index instead of computing x·Wᵀ, so it has no input rows to align; to watch an embedding matrix used as an LM head, use the Watch overload with a weight selector on the head module";
                return false;
        }

        var weight = DirectWeight(module);
        if (weight is null)
        {
            problem = $"{typeName} has no parameter named 'weight'";
            return false;
        }

        if (weight.dim() != 2)
        {
            problem = $"{typeName}'s weight has {weight.dim()} dimensions ({string.Join("x", weight.shape)}), not 2 (out × in)";
            return false;
        }

        if (module is not nn.Module<Tensor, Tensor> tensorModule)
        {
            problem = $"{typeName} does not take a single tensor input, so its input rows cannot be captured";
            return false;
        }

        adapter = new LinearAdapter(tensorModule, typeName, name, () => DirectWeight(tensorModule), (int)weight.shape[0], (int)weight.shape[1]);
        return true;
    }

    /// <summary>An adapter for a module whose weight and input rows are chosen by the caller.</summary>
    public static LayerAdapter WithSelectors(nn.Module module, string name, Func<Tensor> weight, Func<Tensor, Tensor>? input)
    {
        if (module is not nn.Module<Tensor, Tensor> tensorModule)
            throw new ArgumentException($"Cannot watch '{name}' ({module.GetType().Name}): a weight selector needs a module that takes a single tensor input.", nameof(module));
        Tensor w;
        try
        {
            w = weight();
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            throw new ArgumentException($"Cannot watch '{name}': the weight selector threw: {ex.Message}", nameof(weight), ex);
        }

        if (w is null || w.dim() != 2)
            throw new ArgumentException($"Cannot watch '{name}': the weight selector must return a 2-D tensor (out × in); it returned {(w is null ? "null" : $"a {w.dim()}-D tensor")}.", nameof(weight));
        return new LinearAdapter(tensorModule, module.GetType().Name, name, weight, (int)w.shape[0], (int)w.shape[1], inputSelector: input);
    }

    /// <summary>An adapter that measures row ranges of a module's 2-D weight as separate views.</summary>
    public static LayerAdapter WithSlices(nn.Module module, string name, IReadOnlyList<WeightSlice> slices)
    {
        if (!TryCreate(module, name, out var plain, out var problem))
            throw new ArgumentException($"Cannot watch '{name}' ({module.GetType().Name}): {problem}.", nameof(module));
        if (plain is not LinearAdapter || module is not nn.Module<Tensor, Tensor> tensorModule)
            throw new ArgumentException($"Cannot watch slices of '{name}' ({module.GetType().Name}): only a module with a single 2-D weight can be sliced.", nameof(module));

        var view = plain.Views[0];
        var problems = new List<string>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var s in slices)
        {
            if (string.IsNullOrWhiteSpace(s.Name) || !names.Add(s.Name))
                problems.Add($"slice names must be non-empty and distinct ('{s.Name}')");
            long end = (long)s.Start + s.Length;   // in long: Start + Length can overflow int
            if (s.Start < 0 || s.Length < 1 || end > view.OutFeatures)
                problems.Add($"slice '{s.Name}' [{s.Start}, {end}) is outside the weight's {view.OutFeatures} rows");
        }

        if (slices.Count == 0)
            problems.Add("at least one slice is needed");
        if (problems.Count > 0)
            throw new ArgumentException($"Cannot watch slices of '{name}': {string.Join("; ", problems)}.", nameof(slices));
        return new LinearAdapter(tensorModule, plain.Kind, name, () => DirectWeight(tensorModule), view.OutFeatures, view.InFeatures, slices);
    }

    private static Tensor? DirectWeight(nn.Module module) => module is Linear linear
        ? linear.weight
        : module.named_parameters(false).Where(p => p.name == "weight").Select(p => (Tensor)p.parameter).FirstOrDefault();
}
