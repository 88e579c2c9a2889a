using SpectralAlign.Spectral;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace SpectralAlign.Guard.Snapshots;

/// <summary>
/// An optimizer's state through TorchSharp's own serialisation (<see cref="OptimizerHelper.save_state_dict(BinaryWriter)"/>
/// and <see cref="OptimizerHelper.load_state_dict(BinaryReader)"/>): every parameter's state (SGD's momentum buffer,
/// Adam's and AdamW's step count and moments, …) and every parameter group's hyperparameters, as bytes in host memory
/// (TorchSharp's format copies each state tensor through the host, counted by <see cref="DeviceTransfer"/>).
/// </summary>
internal static class OptimizerStateIO
{
    /// <summary>The optimizer as an <see cref="OptimizerHelper"/>, or a clear exception.</summary>
    /// <exception cref="NotSupportedException">The optimizer keeps its state in native code (e.g. LBFGS), which TorchSharp
    /// cannot save and load.</exception>
    public static OptimizerHelper Require(optim.Optimizer optimizer, string paramName)
    {
        ArgumentNullException.ThrowIfNull(optimizer, paramName);
        return optimizer as OptimizerHelper ?? throw new NotSupportedException(
            $"TrainingGuard needs an optimizer whose state TorchSharp can save and load (one derived from OptimizerHelper, "
            + $"such as SGD, Adam, AdamW, RMSprop); {optimizer.GetType().Name} keeps its state in native code, so a "
            + "rollback could not restore it. Use one of those optimizers, or no guard.");
    }

    /// <summary>Serialises the optimizer's whole state.</summary>
    public static byte[] Save(OptimizerHelper optimizer)
    {
        using var stream = new MemoryStream();
        using (var writer = new BinaryWriter(stream, System.Text.Encoding.UTF8, leaveOpen: true))
            DeviceTransfer.SaveOptimizerState(optimizer, writer);
        return stream.ToArray();
    }

    /// <summary>
    /// Loads a state saved by <see cref="Save"/>. When <paramref name="keepLearningRates"/> is set, every parameter
    /// group keeps the learning rate (and initial learning rate) it had before the load: the rate belongs to the
    /// training loop, its scheduler and the guard's own back-off, not to the snapshot. Not atomic by itself (TorchSharp
    /// loads state by state); <see cref="SnapshotRestorer"/> makes it so.
    /// </summary>
    public static void Load(OptimizerHelper optimizer, byte[] state, bool keepLearningRates)
    {
        var groups = optimizer.ParamGroups.ToArray();
        var rates = groups.Select(g => (g.LearningRate, g.InitialLearningRate)).ToArray();
        using (var stream = new MemoryStream(state, writable: false))
        using (var reader = new BinaryReader(stream))
            optimizer.load_state_dict(reader);
        if (!keepLearningRates)
            return;
        for (int i = 0; i < groups.Length; i++)
        {
            groups[i].LearningRate = rates[i].LearningRate;
            groups[i].InitialLearningRate = rates[i].InitialLearningRate;
        }
    }
}
