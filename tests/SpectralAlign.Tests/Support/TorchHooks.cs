using System.Reflection;
using TorchSharp;

namespace SpectralAlign.Tests.Support;

/// <summary>What TorchSharp holds for a module's hooks, read by reflection (TorchSharp exposes no count).</summary>
internal static class TorchHooks
{
    /// <summary>The number of forward pre-hooks TorchSharp holds for a module (its private hook table).</summary>
    public static int PreHookCount(torch.nn.Module module)
    {
        for (var type = module.GetType(); type is not null; type = type.BaseType)
        {
            var field = type.GetField("pre_hooks", BindingFlags.Instance | BindingFlags.NonPublic);
            if (field?.GetValue(module) is System.Collections.ICollection hooks)
                return hooks.Count;
        }

        throw new InvalidOperationException("TorchSharp's hook table was not found.");
    }
}
