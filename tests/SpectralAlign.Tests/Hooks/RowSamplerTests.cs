using SpectralAlign.Hooks;
using SpectralAlign.Tests.Support;
using static TorchSharp.torch;

namespace SpectralAlign.Tests.Hooks;

[Collection(TorchCollection.Name)]
public sealed class RowSamplerTests
{
    /// <summary>The reference: libtorch's own randperm on a CPU generator seeded with <paramref name="seed"/>.</summary>
    private static long[] TorchPrefix(long seed, long count, int take)
    {
        using var scope = NewDisposeScope();
        using var generator = new Generator(0, CPU);
        generator.manual_seed(seed);
        return randperm(count, dtype: ScalarType.Int64, generator: generator).narrow(0, 0, take).data<long>().ToArray();
    }

    private static long[] Drawn(long seed, long count, int take)
    {
        var into = new long[take];
        RowSampler.Draw((ulong)seed, count, into);
        return into;
    }

    [Theory]
    [InlineData(2, 1)]
    [InlineData(2, 2)]
    [InlineData(5, 4)]
    [InlineData(7, 7)]
    [InlineData(64, 16)]
    [InlineData(1024, 256)]
    [InlineData(1000, 999)]
    [InlineData(3000, 623)]
    [InlineData(3000, 624)]
    [InlineData(3000, 625)]
    [InlineData(4096, 1500)]
    [InlineData(100_000, 256)]
    public void Draw_AnySeed_EqualsTheFirstEntriesOfTorchsCpuRandperm(long count, int take)
    {
        foreach (long seed in new[] { 0L, 1L, 42L, -1L, long.MinValue, long.MaxValue, 0x1234_5678_9ABC_DEF0L, unchecked((long)0xFEDC_BA98_7654_3210UL) })
            Assert.Equal(TorchPrefix(seed, count, take), Drawn(seed, count, take));
    }

    [Fact]
    public void Draw_ManyCallsOfVaryingSizeOnOneThread_EachStillEqualsTorch()
    {
        // The per-thread scratch permutation must be the identity again after every call, whatever the sizes.
        var random = new Random(5);
        for (int i = 0; i < 300; i++)
        {
            long seed = random.NextInt64(long.MinValue, long.MaxValue);
            int count = random.Next(1, 5000);
            int take = random.Next(1, Math.Min(count, 700) + 1);
            Assert.Equal(TorchPrefix(seed, count, take), Drawn(seed, count, take));
        }
    }

    [Fact]
    public void Draw_SeveralThreadsAtOnce_EachEqualsTorch()
    {
        const int threads = 4, draws = 200;
        var expected = Enumerable.Range(0, threads * draws).Select(i => TorchPrefix(i, 500 + i, 100)).ToArray();
        var actual = new long[threads * draws][];
        Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, t =>
        {
            for (int j = 0; j < draws; j++)
            {
                int i = (t * draws) + j;
                actual[i] = Drawn(i, 500 + i, 100);
            }
        });
        Assert.Equal(expected, actual);
    }

    [Theory]
    [InlineData(0, 0)]
    [InlineData(4, 5)]
    [InlineData(RowSampler.MaxRows + 1, 1)]
    public void Draw_BadCountOrTake_Throws(long count, int take) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => RowSampler.Draw(1, count, new long[take]));
}
