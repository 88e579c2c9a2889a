using System.Text.RegularExpressions;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace SpectralAlign;

/// <summary>
/// Ready-made filters for <see cref="SpectralMonitor.WatchAll"/>: by module type and by name pattern, combinable.
/// <example><code>monitor.WatchAll(model, LayerFilter.Named("blocks.*.mlp.*").And(LayerFilter.OfType&lt;Linear&gt;()));</code></example>
/// </summary>
public static class LayerFilter
{
    /// <summary>Every <see cref="Linear"/> (the default of <see cref="SpectralMonitor.WatchAll"/>).</summary>
    public static Func<string, nn.Module, bool> Linear { get; } = static (_, module) => module is Linear;

    /// <summary>Every module the monitor can watch (Linear, Conv1d/2d, MultiheadAttention, 2-D weight modules).</summary>
    public static Func<string, nn.Module, bool> Any { get; } = static (_, _) => true;

    /// <summary>Modules of type <typeparamref name="T"/> (or derived).</summary>
    /// <typeparam name="T">The module type.</typeparam>
    /// <returns>The filter.</returns>
    public static Func<string, nn.Module, bool> OfType<T>() where T : nn.Module => static (_, module) => module is T;

    /// <summary>Modules whose path matches a glob pattern: <c>*</c> matches within one path segment,
    /// <c>**</c> across segments, <c>?</c> one character (e.g. <c>blocks.*.attn.*</c>, <c>**.gate</c>).</summary>
    /// <param name="pattern">The pattern, matched against the whole path.</param>
    /// <returns>The filter.</returns>
    public static Func<string, nn.Module, bool> Named(string pattern)
    {
        ArgumentNullException.ThrowIfNull(pattern);
        var regex = new Regex(
            "^" + Regex.Escape(pattern).Replace(@"\*\*", "\u0001", StringComparison.Ordinal).Replace(@"\*", @"[^.]*", StringComparison.Ordinal)
                .Replace("\u0001", ".*", StringComparison.Ordinal).Replace(@"\?", ".", StringComparison.Ordinal) + "$",
            RegexOptions.CultureInvariant);
        return (path, _) => regex.IsMatch(path);
    }

    /// <summary>Both filters accept.</summary>
    /// <param name="first">A filter.</param>
    /// <param name="second">Another filter.</param>
    /// <returns>The combined filter.</returns>
    public static Func<string, nn.Module, bool> And(this Func<string, nn.Module, bool> first, Func<string, nn.Module, bool> second) =>
        (path, module) => first(path, module) && second(path, module);

    /// <summary>Either filter accepts.</summary>
    /// <param name="first">A filter.</param>
    /// <param name="second">Another filter.</param>
    /// <returns>The combined filter.</returns>
    public static Func<string, nn.Module, bool> Or(this Func<string, nn.Module, bool> first, Func<string, nn.Module, bool> second) =>
        (path, module) => first(path, module) || second(path, module);

    /// <summary>The filter rejects.</summary>
    /// <param name="filter">A filter.</param>
    /// <returns>The negated filter.</returns>
    public static Func<string, nn.Module, bool> Not(this Func<string, nn.Module, bool> filter) =>
        (path, module) => !filter(path, module);
}
