namespace SpectralAlign.Spectral;

/// <summary>
/// The numbers <see cref="SpectralEngine"/> works with, and nothing else: the engine depends on no type above
/// <c>Spectral/</c> (no monitor options, detection or telemetry). Built from validated
/// <see cref="SpectralMonitorOptions"/> (<see cref="SpectralMonitorOptions.ToEngineSettings"/>), where each setting is
/// documented and has its default.
/// </summary>
internal sealed record EngineSettings
{
    /// <summary>Minimum warm subspace-iteration steps per measurement.</summary>
    public required int PowerIterations { get; init; }

    /// <summary>Ceiling of a layer's adaptive warm iteration count.</summary>
    public required int MaxWarmIterations { get; init; }

    /// <summary>Cap on iteration steps for a cold start or restart.</summary>
    public required int MaxPowerIterations { get; init; }

    /// <summary>Width k of the iterated subspace (clamped to a layer's input width).</summary>
    public required int SubspaceDimension { get; init; }

    /// <summary>Relative residual below which v1 counts as converged.</summary>
    public required double ResidualTolerance { get; init; }

    /// <summary>A residual above this means the warm start is lost: iterate to convergence within the step.</summary>
    public required double RestartResidual { get; init; }

    /// <summary>Bins of the SA histograms over [-1, 1].</summary>
    public required int HistogramBins { get; init; }

    /// <summary>Seed of the cold-start vectors.</summary>
    public required int Seed { get; init; }

    /// <summary>Whether buckets on the CPU, whose memory is the host's, compute on the host the parts of a measurement
    /// that are small or per element — the subspace iteration of small weights (<see cref="HostIteration"/>), the rows'
    /// values (<see cref="HostRows"/>), the sketch distances (<see cref="HostSketch"/>) and the k × k Rayleigh–Ritz
    /// eigenproblems (<see cref="SymmetricEigen"/>) — rather
    /// than with many small device operations (what other devices always use). Default <c>true</c>; tests turn it off
    /// to hold the two paths to each other on the CPU.</summary>
    public bool HostPath { get; init; } = true;
}
