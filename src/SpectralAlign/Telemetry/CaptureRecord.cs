using static TorchSharp.torch;

namespace SpectralAlign.Telemetry;

/// <summary>
/// The raw material of one layer's measurement, handed to an <see cref="ICaptureSink"/>: the subsampled input rows
/// and the weight, exactly as the monitor uses them. The tensors belong to the monitor and are valid only during the
/// call; copy them (e.g. <c>.cpu()</c> or save them) if you need them afterwards. Never modify them.
/// </summary>
public sealed class CaptureRecord
{
    /// <summary>The measured step.</summary>
    public long Step { get; init; }

    /// <summary>The layer's watch name.</summary>
    public required string Layer { get; init; }

    /// <summary>Number of groups G: 1 except for grouped convolutions, whose every group is a separate matrix.</summary>
    public int Groups { get; init; } = 1;

    /// <summary>The subsampled input rows as a (G, rows, n) tensor (the input's dtype and device; for a convolution,
    /// the unfolded patches of each group), or <c>null</c> when the layer's hook captured nothing on this step.</summary>
    public Tensor? Rows { get; init; }

    /// <summary>Rows the layer saw on this step before subsampling.</summary>
    public long InputRows { get; init; }

    /// <summary>The weight as a (G, m, n) tensor of G matrices applied as x·Wᵀ (detached, its own dtype and
    /// device).</summary>
    public required Tensor Weight { get; init; }

    /// <summary>The watch name of the measured layer that feeds this one on this step (its link,
    /// <see cref="SpectralMonitor.Link"/> or auto-linked), or <c>null</c> for none: what the monitor measured
    /// <see cref="LayerMeasurement.UpstreamAlignment"/> against. Internal: the offline capture records it.</summary>
    internal string? Upstream { get; init; }
}
