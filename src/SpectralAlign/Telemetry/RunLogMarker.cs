namespace SpectralAlign.Telemetry;

/// <summary>A named event recorded in a run log with <see cref="RunLogWriter.WriteMarker"/> (the loss exploded,
/// the learning rate was lowered, a checkpoint was restored, …); plots draw it as a vertical line. Immutable.</summary>
public sealed class RunLogMarker
{
    /// <summary>The training step of the event.</summary>
    public long Step { get; init; }

    /// <summary>The event's name, e.g. <c>loss_explosion</c>.</summary>
    public required string Name { get; init; }

    /// <summary>Free text; empty when none was given.</summary>
    public string Detail { get; init; } = "";
}
