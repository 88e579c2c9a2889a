using SpectralAlign.Hooks;
using SpectralAlign.Tests.Support;
using static TorchSharp.torch;

namespace SpectralAlign.Tests.Hooks;

[Collection(TorchCollection.Name)]
public sealed class HostRowIndexTests
{
    [Fact]
    public void Select_SeveralCallsOfOneStep_EachKeepsItsOwnDrawsRows_OneTensorHeldUntilRelease()
    {
        using var index = new HostRowIndex();
        GC.Collect();
        GC.WaitForPendingFinalizers();
        using var rows = arange(500 * 2, dtype: ScalarType.Float64).reshape(1, 500, 2);
        long before = Tensor.TotalCount;
        foreach (var (seed, take) in new[] { (1UL, 40), (2UL, 40), (3UL, 7), (4UL, 64), (5UL, 40) })
        {
            using var selected = index.Select(RowSource.Of(rows), seed, 500, take);
            var expected = new long[take];
            RowSampler.Draw(seed, 500, expected);
            // Row r of the input is (2r, 2r + 1).
            var values = Reference.ToDoubles(selected);
            Assert.Equal(expected, Enumerable.Range(0, take).Select(i => (long)(values[2 * i] / 2)));
            Assert.All(Enumerable.Range(0, take), i => Assert.Equal(values[2 * i] + 1, values[(2 * i) + 1]));
        }

        Assert.Equal(before + 1, Tensor.TotalCount);   // the shared index tensor, nothing else
        index.Release();
        Assert.Equal(before, Tensor.TotalCount);
        index.Dispose();
        using (var again = index.Select(RowSource.Of(rows), 9, 500, 40))   // after Dispose: a tensor of its own, released at once
            Assert.Equal(before + 1, Tensor.TotalCount);
        Assert.Equal(before, Tensor.TotalCount);
    }
}
