using MathNet.Numerics.Distributions;
using SpectralAlign.Hooks;
using SpectralAlign.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace SpectralAlign.Tests.Hooks;

[Collection(TorchCollection.Name)]
public sealed class InputCaptureTests
{
    [Fact]
    public void Sample_ManyDraws_EverySubsetEquallyLikely()
    {
        // 5 choose 2 = 10 subsets; 20,000 draws; chi-square goodness of fit against the uniform distribution.
        var sampler = RowSampler.Stream(7, "l", 0);
        var counts = new Dictionary<(long, long), int>();
        const int draws = 20_000;
        for (int i = 0; i < draws; i++)
        {
            var s = RowSampler.Sample(sampler, 5, 2);
            Assert.Equal(2, s.Length);
            Assert.True(s[0] < s[1]);
            counts[(s[0], s[1])] = counts.GetValueOrDefault((s[0], s[1])) + 1;
        }

        Assert.Equal(10, counts.Count);
        double expected = draws / 10.0;
        double chi2 = counts.Values.Sum(c => (c - expected) * (c - expected) / expected);
        double p = 1 - ChiSquared.CDF(9, chi2);
        Assert.True(p > 0.001, $"chi-square {chi2:F1}, p = {p:G3}");
    }

    [Fact]
    public void Sample_LargePopulation_EachIndexIncludedWithProbabilityTakeOverCount()
    {
        var sampler = RowSampler.Stream(3, "l", 0);
        const int count = 1000, take = 100, draws = 2000;
        var inclusions = new int[count];
        for (int i = 0; i < draws; i++)
        {
            var s = RowSampler.Sample(sampler, count, take);
            Assert.Equal(take, s.Distinct().Count());
            Assert.All(s, x => Assert.InRange(x, 0, count - 1));
            foreach (var x in s)
                inclusions[x]++;
        }

        // Binomial(2000, 0.1): mean 200, sd ≈ 13.4; all 1000 indices within 5 sd.
        Assert.All(inclusions, c => Assert.InRange(c, 200 - 67, 200 + 67));
    }

    [Fact]
    public void Stream_SameSeedLayerStep_SameSample_AnyDifference_DifferentSample()
    {
        var first = RowSampler.Sample(RowSampler.Stream(11, "a", 5), 10_000, 64);
        Assert.Equal(first, RowSampler.Sample(RowSampler.Stream(11, "a", 5), 10_000, 64));
        Assert.NotEqual(first, RowSampler.Sample(RowSampler.Stream(12, "a", 5), 10_000, 64));
        Assert.NotEqual(first, RowSampler.Sample(RowSampler.Stream(11, "b", 5), 10_000, 64));
        Assert.NotEqual(first, RowSampler.Sample(RowSampler.Stream(11, "a", 6), 10_000, 64));
    }

    [Theory]
    [InlineData(64, 16, 4000)]     // dense: selection sampling
    [InlineData(3000, 30, 4000)]   // sparse (count > 16 × take): Floyd's algorithm
    public void Sample_DenseAndSparseRegimes_EachIndexIncludedWithProbabilityTakeOverCount(int count, int take, int draws)
    {
        var stream = RowSampler.Stream(5, "l", 0);
        var buffer = new long[take];
        var scratch = new HashSet<long>();
        var inclusions = new int[count];
        for (int i = 0; i < draws; i++)
        {
            RowSampler.Sample(stream, count, buffer, scratch);
            for (int j = 1; j < take; j++)
                Assert.True(buffer[j - 1] < buffer[j]);   // ascending, hence distinct
            foreach (var x in buffer)
                inclusions[x]++;
        }

        // Binomial(draws, take / count) per index; every index within 6 sd of its mean.
        double p = take / (double)count, mean = draws * p, sd = Math.Sqrt(draws * p * (1 - p));
        Assert.All(inclusions, c => Assert.InRange(c, mean - (6 * sd), mean + (6 * sd)));
    }

    [Fact]
    public void Add_SuccessiveSteps_CapturesExactlyTheRowSamplerSampleOfEachStep()
    {
        using var input = arange(0, 300, dtype: ScalarType.Float32).reshape(1, 300, 1);
        using var capture = new InputCapture("layer", capacity: 50, seed: 9);
        var samples = new List<double[]>();
        foreach (long step in new long[] { 7, 8 })
        {
            using (no_grad())
                capture.Add(step, input);
            var (rows, _) = capture.Take();
            using var _ = rows;
            var captured = Reference.ToDoubles(rows!);
            var expected = RowSampler.Sample(RowSampler.Stream(9, "layer", step), 300, 50).Select(i => (double)i).ToArray();
            Assert.Equal(expected, captured);
            samples.Add(captured);
        }

        Assert.NotEqual(samples[0], samples[1]);   // the reused index buffer is refilled every step
    }

    [Fact]
    public void Add_MoreRowsThanCapacity_KeepsDistinctOriginalRowsWithoutChangingInput()
    {
        using var input = arange(0, 500 * 3, dtype: ScalarType.Float32).reshape(5, 100, 3);
        using var before = input.clone();
        using var capture = new InputCapture("l", capacity: 40, seed: 1);

        using (no_grad())
            capture.Add(0, input.reshape(1, -1, 3));
        var (rows, seen) = capture.Take();
        using var _ = rows;

        Assert.True(input.eq(before).all().item<bool>());
        Assert.Equal(500, seen);
        Assert.NotNull(rows);
        Assert.Equal(new long[] { 1, 40, 3 }, rows!.shape);
        // Row r of the flattened input is (3r, 3r+1, 3r+2): recover r and check rows are distinct originals.
        var values = Reference.ToDoubles(rows);
        var indices = Enumerable.Range(0, 40).Select(i =>
        {
            double r = values[i * 3] / 3;
            Assert.Equal(3 * r + 1, values[i * 3 + 1]);
            Assert.Equal(3 * r + 2, values[i * 3 + 2]);
            return r;
        }).ToArray();
        Assert.Equal(40, indices.Distinct().Count());
    }

    [Fact]
    public void Add_SeveralCalls_FillsUpToCapacityInCallOrder()
    {
        using var capture = new InputCapture("l", capacity: 16, seed: 1);
        using var first = ones(1, 10, 2);
        using var second = full(1, 30, 2, 2f);
        using var third = full(1, 5, 2, 3f);
        capture.Add(0, first);
        capture.Add(0, second);
        capture.Add(0, third); // no room left
        var (rows, seen) = capture.Take();
        using var _ = rows;

        Assert.Equal(45, seen);
        var values = Reference.ToDoubles(rows!);
        Assert.Equal(32, values.Length);
        Assert.Equal(20, values.Count(v => v == 1));
        Assert.Equal(12, values.Count(v => v == 2));

        // Take resets the capture.
        capture.Add(1, third);
        var (again, seenAgain) = capture.Take();
        using var __ = again;
        Assert.Equal(5, seenAgain);
        Assert.Equal(new long[] { 1, 5, 2 }, again!.shape);
    }

    [Fact]
    public void Add_InputModifiedInPlaceAfterwards_CaptureUnaffected()
    {
        using var capture = new InputCapture("l", capacity: 8, seed: 1);
        using var input = ones(1, 8, 4);
        capture.Add(0, input);
        input.mul_(-5);
        var (rows, _) = capture.Take();
        using var _ = rows;
        Assert.All(Reference.ToDoubles(rows!), v => Assert.Equal(1.0, v));
    }
}
