namespace SpectralAlign.Spectral;

/// <summary>
/// How many warm subspace-iteration steps a layer plans for its next measurement, decided from this measurement's
/// read-back (no extra synchronisation). After a cold start or a restart the weights are often moving fast (early
/// training), so the plan starts generously; it doubles while the residual stays above the tolerance, halves when the
/// residual is far below it (<see cref="HalvingMargin"/>) and drops by one when it is comfortably below (a quarter of
/// the tolerance). Halving matters after a restart has raised the plan to 4·<see cref="EngineSettings.PowerIterations"/>
/// or more: dropping by one per measurement kept such layers at 6–8 steps for many measurements with residuals near
/// 1e-7, ten thousand times below the tolerance (the benchmark's accuracy section shows the counts).
/// </summary>
internal static class IterationHints
{
    /// <summary>A residual below <see cref="EngineSettings.ResidualTolerance"/> / <c>HalvingMargin</c> halves the
    /// plan.</summary>
    public const double HalvingMargin = 64;

    /// <summary>The plan for the next measurement.</summary>
    /// <param name="hint">The layer's current plan (<see cref="SpectralState.IterationHint"/>; 0 before any).</param>
    /// <param name="planned">The warm steps this measurement started with.</param>
    /// <param name="done">The steps it took (more than <paramref name="planned"/> when it iterated on within the
    /// step: a cold start or a lost warm start).</param>
    /// <param name="residual">Its relative residual.</param>
    /// <param name="options">The engine's settings.</param>
    /// <returns>The new plan; <paramref name="hint"/> unchanged when the residual is between a quarter of the
    /// tolerance and the tolerance.</returns>
    public static int Next(int hint, int planned, int done, double residual, EngineSettings options)
    {
        int current = Math.Max(hint, options.PowerIterations);
        if (done > planned)
            return Math.Min(Math.Max(current, 4 * options.PowerIterations), options.MaxWarmIterations);
        if (residual > options.ResidualTolerance)
            return Math.Min(2 * planned, options.MaxWarmIterations);
        if (residual < options.ResidualTolerance / HalvingMargin)
            return Math.Max(options.PowerIterations, current / 2);
        if (residual < options.ResidualTolerance / 4)
            return Math.Max(options.PowerIterations, current - 1);
        return hint;
    }
}
