namespace SpectralAlign;

/// <summary>Where a <see cref="TrainingGuard"/> keeps the copies of the model's parameters and buffers it may roll
/// back to. The optimizer's state is always kept in host memory, in TorchSharp's own serialised form (the only form in
/// which TorchSharp saves and restores every optimizer's state).</summary>
public enum SnapshotLocation
{
    /// <summary>Host (CPU) memory: costs a device-to-host copy per snapshot and no accelerator memory.</summary>
    Host,

    /// <summary>The device each tensor lives on: the fastest copy, at the cost of accelerator memory.</summary>
    Device,
}
