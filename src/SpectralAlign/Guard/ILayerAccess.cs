using TorchSharp.Modules;
using static TorchSharp.torch;

namespace SpectralAlign.Guard;

/// <summary>
/// What the guard needs to know about a watched layer to correct it: its live (G, m, n) weight view, the parameter
/// that view belongs to, and the monitor's spectral state (a warm basis whose first column is v1; σ₁ of the last
/// measurement). The one seam between the guard and the monitor's internals.
/// </summary>
internal interface ILayerAccess
{
    /// <summary>Every watched layer's name, in watch order.</summary>
    IReadOnlyList<string> LayerNames { get; }

    /// <summary>The layer's current weight, or <c>null</c> when it cannot be reached (the reason in
    /// <paramref name="problem"/>).</summary>
    /// <param name="layer">A watched layer's name.</param>
    /// <param name="problem">Why there is no weight, or <c>null</c>.</param>
    LayerWeight? FindWeight(string layer, out string? problem);

    /// <summary>A copy of the layer's warm basis (G, n, k), on the weight's device, or <c>null</c> before its first
    /// measurement. The caller owns it.</summary>
    Tensor? CopyBasis(string layer);
}

/// <summary>A watched layer's weight.</summary>
/// <param name="View">(G, m, n), a view of the live parameter: writing it writes the parameter.</param>
/// <param name="Owner">The parameter the view belongs to, or <c>null</c> when it was not found (the optimizer state
/// and the snapshot's copy of the weight are then out of reach).</param>
internal sealed record LayerWeight(Tensor View, Parameter? Owner);
