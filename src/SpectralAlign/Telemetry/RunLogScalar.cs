namespace SpectralAlign.Telemetry;

/// <summary>A named value recorded in a run log with <see cref="RunLogWriter.WriteScalar"/> (the training loss, the
/// learning rate, …). Immutable.</summary>
public sealed class RunLogScalar
{
    /// <summary>The training step the value belongs to.</summary>
    public long Step { get; init; }

    /// <summary>The value's name, e.g. <c>loss</c>.</summary>
    public required string Name { get; init; }

    /// <summary>The value (may be NaN or infinite: a diverged loss is worth recording).</summary>
    public double Value { get; init; }
}
