using static TorchSharp.torch;

namespace SpectralAlign.Guard.Remedies;

/// <summary>
/// One spectral remedy: given a copy of a weight stack (G, m, n) in its compute dtype, proposes the replacement. A
/// remedy never writes to its input; <see cref="WeightEditor"/> checks, commits (all or nothing) and reports.
/// </summary>
internal interface ISpectralRemedy
{
    /// <summary>Short name for logs and results.</summary>
    string Name { get; }

    /// <summary>Computes the replacement of <paramref name="w"/>.</summary>
    /// <param name="w">(G, m, n), finite, not all zero, in the compute dtype (float32 or float64).</param>
    /// <param name="warm">(G, n, k₀) start vectors for the top right singular subspace, or <c>null</c>.</param>
    /// <param name="settings">Iteration limits and tolerances.</param>
    /// <returns>The proposal, or a refusal saying why.</returns>
    RemedyProposal Propose(Tensor w, Tensor? warm, RemedySettings settings);
}

/// <summary>What a remedy proposes: the new weight (same shape, compute dtype), or why it proposes nothing.</summary>
/// <param name="Weight">The replacement, or <c>null</c> when refused.</param>
/// <param name="Problem">Why nothing is proposed, or <c>null</c>.</param>
/// <param name="SpectralNormBefore">Largest σ₁ over the groups before.</param>
/// <param name="SpectralNormAfter">Largest σ₁ over the groups after (as the remedy computes it).</param>
/// <param name="Iterations">Iterations spent.</param>
internal readonly record struct RemedyProposal(Tensor? Weight, string? Problem, double SpectralNormBefore, double SpectralNormAfter, int Iterations)
{
    public static RemedyProposal Refuse(string problem, int iterations = 0) => new(null, problem, double.NaN, double.NaN, iterations);
}
