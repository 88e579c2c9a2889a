using static TorchSharp.torch;

namespace SpectralAlign.Tests.Support;

/// <summary>
/// A fact that runs only where TorchSharp sees a CUDA device (the TorchSharp-cuda native package and a GPU); elsewhere
/// it is reported as skipped with the reason, never passed without checking anything. The claims it guards — one
/// device-to-host transfer per measured step, none in the forward pass — are the ones a CPU run cannot falsify,
/// because on the CPU a hidden synchronisation costs nothing. (xunit 2 decides skips at discovery, so the attribute
/// sets <see cref="FactAttribute.Skip"/> in its constructor.)
/// </summary>
[AttributeUsage(AttributeTargets.Method, AllowMultiple = false)]
public sealed class CudaFactAttribute : FactAttribute
{
    public CudaFactAttribute()
    {
        if (!cuda.is_available())
            Skip = "Needs a CUDA device and TorchSharp's CUDA native package (this run has neither): the transfer and "
                + "synchronisation counts on a GPU cannot be observed on the CPU.";
    }
}
