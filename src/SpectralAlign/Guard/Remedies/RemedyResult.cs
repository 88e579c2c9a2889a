namespace SpectralAlign.Guard.Remedies;

/// <summary>The outcome of applying one remedy to one weight.</summary>
/// <param name="Applied">Whether the weight was changed.</param>
/// <param name="Problem">Why it was not, or <c>null</c>.</param>
/// <param name="SpectralNormBefore">Largest σ₁ over the groups before (NaN when the remedy does not compute it).</param>
/// <param name="SpectralNormAfter">Largest σ₁ over the groups after (NaN when not computed).</param>
/// <param name="Iterations">Iterations the remedy spent.</param>
/// <param name="MomentProblem">Why the optimizer state was kept against the policy, or <c>null</c>.</param>
internal sealed record RemedyResult(bool Applied, string? Problem, double SpectralNormBefore, double SpectralNormAfter, int Iterations, string? MomentProblem = null)
{
    public static RemedyResult Refused(string problem, int iterations = 0) => new(false, problem, double.NaN, double.NaN, iterations);
}
