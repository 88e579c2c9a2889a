using static TorchSharp.torch;

namespace SpectralAlign.Tests.Support;

/// <summary>The process-wide live tensor count, for tests that check nothing leaks.</summary>
internal static class LiveTensors
{
    /// <summary>The live tensor count after finalising whatever earlier tests left to the finaliser (the count is
    /// process-wide and the finaliser thread would otherwise lower it at random moments).</summary>
    public static long Live()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        return Tensor.TotalCount;
    }
}
