using SpectralAlign.Spectral;
using SpectralAlign.Tests.Support;
using static TorchSharp.torch;

namespace SpectralAlign.Tests.Spectral;

/// <summary><see cref="HostMemory"/> reads a contiguous CPU tensor where it is (a write to the tensor shows in the span:
/// no copy, and <see cref="DeviceTransfer"/> counts nothing) and refuses every other tensor.</summary>
[Collection(TorchCollection.Name)]
public sealed class HostMemoryTests
{
    [Fact]
    public void Span_ContiguousCpuTensor_ReadsItsStorageWithoutCopyOrTransfer()
    {
        using var scope = NewDisposeScope();
        var t = arange(12, dtype: ScalarType.Float32).view(3, 4);
        long transfers = DeviceTransfer.Count;

        var span = HostMemory.Span<float>(t);
        t[1, 2] = tensor(-5f);

        Assert.Equal(12, span.Length);
        Assert.Equal(-5f, span[6]);
        Assert.Equal(11f, span[11]);
        Assert.Equal(transfers, DeviceTransfer.Count);
    }

    [Fact]
    public void Span_ViewWithOffset_StartsAtItsFirstElement()
    {
        using var scope = NewDisposeScope();
        var t = arange(12, dtype: ScalarType.Float64).view(3, 4);

        var span = HostMemory.Span<double>(t[2]);   // a contiguous view at storage offset 8

        Assert.Equal(new double[] { 8, 9, 10, 11 }, span.ToArray());
    }

    [Fact]
    public void Span_NonContiguousTensor_Throws()
    {
        using var scope = NewDisposeScope();
        var t = arange(12, dtype: ScalarType.Float32).view(3, 4).t();

        var e = Assert.Throws<ArgumentException>(() => HostMemory.Span<float>(t).Length);
        Assert.Contains("not contiguous", e.Message);
    }

    [Theory]
    [InlineData(ScalarType.Float64)]
    [InlineData(ScalarType.BFloat16)]
    [InlineData(ScalarType.Int32)]
    public void Span_OtherDtypeThanRequested_Throws(ScalarType dtype)
    {
        using var scope = NewDisposeScope();
        var t = ones(4, dtype: dtype);

        var e = Assert.Throws<ArgumentException>(() => HostMemory.Span<float>(t).Length);
        Assert.Contains(dtype.ToString(), e.Message);
    }
}
