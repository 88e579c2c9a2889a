using TorchSharp.Modules;
using static TorchSharp.torch;

namespace SpectralAlign.Guard;

/// <summary>A watched layer's weight.</summary>
/// <param name="View">(G, m, n), a view of the live parameter: writing it writes the parameter.</param>
/// <param name="Owner">The parameter the view belongs to, or <c>null</c> when it was not found (the optimizer state
/// and the snapshot's copy of the weight are then out of reach).</param>
internal sealed record LayerWeight(Tensor View, Parameter? Owner);
