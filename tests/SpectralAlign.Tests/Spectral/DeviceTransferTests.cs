using SpectralAlign.Spectral;
using SpectralAlign.Tests.Support;
using static TorchSharp.torch;

namespace SpectralAlign.Tests.Spectral;

/// <summary><see cref="DeviceTransfer.CopyTo"/>: the counted copy into a caller's buffer, checked against the values the
/// test put into the tensor.</summary>
[Collection(TorchCollection.Name)]
public sealed class DeviceTransferTests
{
    [Theory]
    [InlineData(ScalarType.Float32)]
    [InlineData(ScalarType.Float64)]
    [InlineData(ScalarType.BFloat16)]
    public void CopyTo_LongerDestination_WritesTheValuesAsDoublesInRowMajorOrderAndCountsOneTransfer(ScalarType dtype)
    {
        double[] expected = [1.5, -2, 0.25, 1024, -0.125, 3];   // exact in every dtype above
        using var values = tensor(expected, dtype: ScalarType.Float64).to(dtype).view(2, 3);
        var destination = Enumerable.Repeat(double.NaN, 8).ToArray();

        long before = DeviceTransfer.Count;
        int copied = DeviceTransfer.CopyTo(values, destination);

        Assert.Equal(1, DeviceTransfer.Count - before);
        Assert.Equal(6, copied);
        Assert.Equal(expected, destination[..6]);
        Assert.All(destination[6..], x => Assert.True(double.IsNaN(x), "a value past the tensor's was written"));
    }

    [Fact]
    public void CopyTo_TransposedView_CopiesTheViewInItsRowMajorOrder()
    {
        using var matrix = arange(6, dtype: ScalarType.Float64).view(2, 3);   // [[0, 1, 2], [3, 4, 5]]
        using var transposed = matrix.t();                                      // [[0, 3], [1, 4], [2, 5]]
        var destination = new double[6];

        DeviceTransfer.CopyTo(transposed, destination);

        Assert.Equal([0, 3, 1, 4, 2, 5], destination);
    }

    [Fact]
    public void CopyTo_ShortDestination_ThrowsNamingBothSizes()
    {
        using var values = zeros(5, dtype: ScalarType.Float64);

        var error = Assert.Throws<ArgumentException>(() => DeviceTransfer.CopyTo(values, new double[4]));

        Assert.Contains("4", error.Message, StringComparison.Ordinal);
        Assert.Contains("5", error.Message, StringComparison.Ordinal);
    }
}
