using MathNet.Numerics.Distributions;
using SpectralAlign.Hooks;
using SpectralAlign.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace SpectralAlign.Tests.Hooks;

[Collection(TorchCollection.Name)]
public sealed class InputCaptureTests
{
    /// <summary>The row indices <paramref name="capture"/> keeps of <paramref name="count"/> rows at
    /// <paramref name="step"/> (the input's rows are their own indices).</summary>
    private static long[] Sample(InputCapture capture, long step, int count)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        capture.Add(step, arange(count, dtype: ScalarType.Float64).reshape(1, count, 1));
        var (rows, _) = capture.Take();
        using var _ = rows;
        return Reference.ToDoubles(rows!).Select(x => (long)x).ToArray();
    }

    [Fact]
    public void Add_ManySteps_EverySubsetEquallyLikely()
    {
        // 5 choose 2 = 10 subsets; 5,000 steps; chi-square goodness of fit against the uniform distribution.
        using var capture = new InputCapture("l", capacity: 2, seed: 7);
        var counts = new Dictionary<(long, long), int>();
        const int draws = 5_000;
        for (int step = 0; step < draws; step++)
        {
            var s = Sample(capture, step, 5).Order().ToArray();
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

    [Theory]
    [InlineData(64, 16, 2000)]
    [InlineData(1000, 100, 2000)]
    [InlineData(3000, 30, 2000)]
    public void Add_ManySteps_EachRowIncludedWithProbabilityTakeOverCount(int count, int take, int draws)
    {
        using var capture = new InputCapture("l", capacity: take, seed: 3);
        var inclusions = new int[count];
        for (int step = 0; step < draws; step++)
        {
            var s = Sample(capture, step, count);
            Assert.Equal(take, s.Distinct().Count());
            Assert.All(s, x => Assert.InRange(x, 0, count - 1));
            foreach (var x in s)
                inclusions[x]++;
        }

        // Binomial(draws, take / count) per index; every index within 6 sd of its mean.
        double p = take / (double)count, mean = draws * p, sd = Math.Sqrt(draws * p * (1 - p));
        Assert.All(inclusions, c => Assert.InRange(c, mean - (6 * sd), mean + (6 * sd)));
    }

    [Theory]
    [InlineData(10_000, 64, 0)]
    [InlineData(1024, 256, 3)]
    [InlineData(300, 299, 17)]
    [InlineData(5000, 700, 1_000_000_007)]
    public void Add_OnTheCpu_HostAndDevicePathsKeepTheSameRows(int count, int capacity, long step)
    {
        foreach (var (seed, layer) in new[] { (7, "blocks.0.q"), (-3, "head"), (int.MaxValue, "x") })
        {
            using var host = new InputCapture(layer, capacity, seed);
            using var device = new InputCapture(layer, capacity, seed) { HostSampling = false };
            Assert.Equal(Sample(device, step, count), Sample(host, step, count));
        }
    }

    [Fact]
    public void Add_SameSeedLayerStep_SameSample_AnyDifference_DifferentSample()
    {
        long[] Draw(int seed, string layer, long step)
        {
            using var capture = new InputCapture(layer, capacity: 64, seed: seed);
            return Sample(capture, step, 10_000);
        }

        var first = Draw(11, "a", 5);
        Assert.Equal(first, Draw(11, "a", 5));
        Assert.NotEqual(first, Draw(12, "a", 5));
        Assert.NotEqual(first, Draw(11, "b", 5));
        Assert.NotEqual(first, Draw(11, "a", 6));
    }

    [Fact]
    public void Add_Sampling_LeavesTorchsGlobalGeneratorAlone()
    {
        manual_seed(99);
        using var expected = rand(8);
        manual_seed(99);
        using (var capture = new InputCapture("l", capacity: 10, seed: 1))
            Sample(capture, 0, 500);
        using var actual = rand(8);
        Assert.True(expected.eq(actual).all().item<bool>());
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

    [Fact]
    public void Add_WithRecovery_MadeOnlyForKeptRows_RunsAtTakeNotInTheHook_AndReleasesItsTensors()
    {
        using var capture = new InputCapture("l", capacity: 4, seed: 1);
        int applied = 0, made = 0;
        var kept = ones(1);
        using var input = full(1, 4, 2, 3f);
        capture.Add(0, input, () => { made++; return new RowRecovery(r => { applied++; return r * 2; }, kept); });
        capture.Add(0, input, () => { made++; return new RowRecovery(r => { applied++; return r; }); });   // no room left

        Assert.Equal(1, made);
        Assert.Equal(0, applied);
        var (rows, _) = capture.Take();
        using var _ = rows;
        Assert.Equal(1, applied);
        Assert.True(kept.IsInvalid);
        Assert.All(Reference.ToDoubles(rows!), v => Assert.Equal(6.0, v));
    }
}
