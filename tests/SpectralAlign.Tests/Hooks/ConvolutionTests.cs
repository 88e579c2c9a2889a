using SpectralAlign.Tests.Support;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace SpectralAlign.Tests.Hooks;

/// <summary>
/// Convolutions against an explicit patch-by-patch computation written here with plain loops and index arithmetic
/// (its own padding modes), itself checked against the convolution's output.
/// </summary>
[Collection(TorchCollection.Name)]
public sealed class ConvolutionTests
{
    public static TheoryData<string, int, int, int, int, int, int, PaddingModes> Conv2dCases() => new()
    {
        // name, in, out, kernel, stride, padding, dilation, groups, mode
        { "plain", 3, 8, 3, 1, 0, 1, PaddingModes.Zeros },
        { "strided-padded", 4, 6, 3, 2, 1, 1, PaddingModes.Zeros },
        { "dilated", 2, 5, 3, 1, 2, 2, PaddingModes.Zeros },
        { "grouped", 6, 9, 3, 1, 1, 1, PaddingModes.Zeros },
        { "reflect", 3, 4, 3, 1, 1, 1, PaddingModes.Reflect },
        { "replicate", 3, 4, 3, 2, 1, 1, PaddingModes.Replicate },
        { "circular", 3, 4, 3, 1, 1, 1, PaddingModes.Circular },
        { "1x1", 5, 7, 1, 1, 0, 1, PaddingModes.Zeros },
    };

    [Theory]
    [MemberData(nameof(Conv2dCases))]
    public void Step_Conv2d_MatchesExplicitPatches(string name, int inChannels, int outChannels, int kernel, int stride, int padding, int dilation, PaddingModes mode)
    {
        int groups = name == "grouped" ? 3 : 1;
        manual_seed(7);
        using var conv = nn.Conv2d(inChannels, outChannels, (kernel, kernel), stride: (stride, stride), padding: (padding, padding), dilation: (dilation, dilation), padding_mode: mode, groups: groups);
        using var input = Layers.Randn([2, inChannels, 7, 6], ScalarType.Float32, seed: 8) + 0.3f;

        var patches = ExplicitPatches2d(input, conv);
        AssertPatchesReproduceConvolution(conv, input, patches);
        AssertMonitorMatches(conv, input, patches, groups);
    }

    [Theory]
    [InlineData(1, 0, 1, 1, PaddingModes.Zeros)]
    [InlineData(2, 2, 2, 1, PaddingModes.Zeros)]
    [InlineData(1, 1, 1, 2, PaddingModes.Reflect)]
    [InlineData(1, 1, 1, 4, PaddingModes.Circular)]
    public void Step_Conv1d_MatchesExplicitPatches(int stride, int padding, int dilation, int groups, PaddingModes mode)
    {
        manual_seed(9);
        using var conv = nn.Conv1d(4, 8, 3, stride: stride, padding: padding, dilation: dilation, padding_mode: mode, groups: groups);
        using var input = Layers.Randn([3, 4, 11], ScalarType.Float32, seed: 10) + 0.2f;

        var patches = ExplicitPatches1d(input, conv);
        AssertPatchesReproduceConvolution(conv, input, patches);
        AssertMonitorMatches(conv, input, patches, groups);
    }

    [Fact]
    public void Step_Conv1dPaddingSame_MatchesExplicitPatches()
    {
        manual_seed(11);
        using var conv = nn.Conv1d(3, 5, 4, Padding.Same, dilation: 2);
        using var input = Layers.Randn([2, 3, 9], ScalarType.Float32, seed: 12);
        var patches = ExplicitPatches1d(input, conv);
        AssertPatchesReproduceConvolution(conv, input, patches);
        AssertMonitorMatches(conv, input, patches, 1);
    }

    [Theory]
    [InlineData(ScalarType.Float16)]
    [InlineData(ScalarType.BFloat16)]
    [InlineData(ScalarType.Float64)]
    public void Step_Conv2dLowAndHighPrecision_MatchesFloat64Reference(ScalarType dtype)
    {
        manual_seed(13);
        using var conv = nn.Conv2d(3, 6, 3, padding: 1);
        conv.to(dtype);
        using var input = (Layers.Randn([2, 3, 5, 5], ScalarType.Float32, seed: 14) + 0.5f).to(dtype);
        var patches = ExplicitPatches2d(input.to(ScalarType.Float64), conv);
        AssertMonitorMatches(conv, input, patches, 1, tolerance: 2e-3);
    }

    [Fact]
    public void Watch_Unbatched2dInput_EveryPositionIsASample()
    {
        manual_seed(15);
        using var conv = nn.Conv2d(2, 4, 3);
        using var input = Layers.Randn([2, 6, 6], ScalarType.Float32, seed: 16);
        using var harness = new MonitorHarness(new SpectralMonitorOptions { Interval = 1, MaxSamplesPerLayer = 1000 });
        harness.Monitor.Watch(conv, "conv");
        harness.Step(1, (conv, input));
        var m = harness.Last("conv");
        Assert.Equal(16, m.Stats.Count);
        Assert.Equal(16, m.InputRows);
    }

    /// <summary>Patches per group: [g][sample] = (C/G · kh · kw) values, samples ordered (batch, row, col).</summary>
    private static double[][][] ExplicitPatches2d(Tensor input, Convolution conv)
    {
        var x = Reference.ToDoubles(input);
        long b = input.shape[0], c = input.shape[1], h = input.shape[2], w = input.shape[3];
        long kh = conv.kernel_size[0], kw = conv.kernel_size[1];
        long sh = conv.stride[0], sw = conv.stride[1], dh = conv.dilation[0], dw = conv.dilation[1];
        long ph = conv.padding![0], pw = conv.padding[1];
        long g = conv.groups, cg = c / g;
        long oh = (h + 2 * ph - dh * (kh - 1) - 1) / sh + 1, ow = (w + 2 * pw - dw * (kw - 1) - 1) / sw + 1;
        var result = new double[g][][];
        for (long gi = 0; gi < g; gi++)
        {
            var samples = new List<double[]>();
            for (long bi = 0; bi < b; bi++)
            for (long i = 0; i < oh; i++)
            for (long j = 0; j < ow; j++)
            {
                var patch = new double[cg * kh * kw];
                int at = 0;
                for (long ci = 0; ci < cg; ci++)
                for (long u = 0; u < kh; u++)
                for (long v = 0; v < kw; v++)
                {
                    long r = Source(i * sh + u * dh - ph, h, conv.padding_mode), q = Source(j * sw + v * dw - pw, w, conv.padding_mode);
                    patch[at++] = r < 0 || q < 0 ? 0 : x[((bi * c + gi * cg + ci) * h + r) * w + q];
                }

                samples.Add(patch);
            }

            result[gi] = samples.ToArray();
        }

        return result;
    }

    private static double[][][] ExplicitPatches1d(Tensor input, Convolution conv)
    {
        var x = Reference.ToDoubles(input);
        long b = input.shape[0], c = input.shape[1], len = input.shape[2];
        long k = conv.kernel_size[0], s = conv.stride[0], d = conv.dilation[0];
        long left, right;
        if (conv.padding is { } p)
        {
            left = right = p[0];
        }
        else
        {
            long total = d * (k - 1);
            left = total / 2;
            right = total - left;
        }

        long g = conv.groups, cg = c / g;
        long outLength = (len + left + right - d * (k - 1) - 1) / s + 1;
        var result = new double[g][][];
        for (long gi = 0; gi < g; gi++)
        {
            var samples = new List<double[]>();
            for (long bi = 0; bi < b; bi++)
            for (long i = 0; i < outLength; i++)
            {
                var patch = new double[cg * k];
                int at = 0;
                for (long ci = 0; ci < cg; ci++)
                for (long u = 0; u < k; u++)
                {
                    long r = Source(i * s + u * d - left, len, conv.padding_mode);
                    patch[at++] = r < 0 ? 0 : x[(bi * c + gi * cg + ci) * len + r];
                }

                samples.Add(patch);
            }

            result[gi] = samples.ToArray();
        }

        return result;
    }

    /// <summary>Maps a padded coordinate to the source index (or −1 for a zero pad).</summary>
    private static long Source(long index, long size, PaddingModes mode)
    {
        if (index >= 0 && index < size)
            return index;
        return mode switch
        {
            PaddingModes.Reflect => index < 0 ? -index : 2 * (size - 1) - index,
            PaddingModes.Replicate => index < 0 ? 0 : size - 1,
            PaddingModes.Circular => ((index % size) + size) % size,
            _ => -1,
        };
    }

    /// <summary>The explicit patches times each group's weight rows give the convolution's output.</summary>
    private static void AssertPatchesReproduceConvolution(Convolution conv, Tensor input, double[][][] patches)
    {
        using var noGrad = no_grad();
        using var output = conv.call(input);
        var y = Reference.ToDoubles(output.flatten(2).permute(0, 2, 1).contiguous()); // (B, L, O)
        var weights = GroupWeights(conv);
        var bias = conv.bias is null ? null : Reference.ToDoubles(conv.bias);
        long outChannels = conv.out_channels, perGroup = outChannels / conv.groups;
        long samples = patches[0].Length;
        for (int g = 0; g < patches.Length; g++)
        for (long sIndex = 0; sIndex < samples; sIndex++)
        for (long o = 0; o < perGroup; o++)
        {
            double expected = Reference.Dot(patches[g][sIndex], weights[g][o]) + (bias?[g * perGroup + o] ?? 0);
            Assert.Equal(expected, y[sIndex * outChannels + g * perGroup + o], 1e-3);
        }
    }

    private static double[][][] GroupWeights(Convolution conv)
    {
        var w = Reference.ToDoubles(conv.weight);
        long g = conv.groups, perGroup = conv.out_channels / g;
        long n = w.Length / conv.out_channels;
        return Enumerable.Range(0, (int)g).Select(gi =>
            Enumerable.Range(0, (int)perGroup).Select(o => w.AsSpan((int)((gi * perGroup + o) * n), (int)n).ToArray()).ToArray()).ToArray();
    }

    private static void AssertMonitorMatches(Convolution conv, Tensor input, double[][][] patches, int groups, double tolerance = 2e-4)
    {
        using var harness = new MonitorHarness(new SpectralMonitorOptions { Interval = 1, MaxSamplesPerLayer = 10_000, ResidualTolerance = 1e-5 });
        var watch = harness.Monitor.Watch(conv, "conv");
        harness.Step(1, (conv, input));
        var m = harness.Last("conv");

        // Reference: each group's v1 from the SVD of its (out/G) × (in/G·k) matrix, sign-aligned with the monitor's.
        var weights = GroupWeights(conv);
        using var ours = watch.CopySingularVector()!;
        var oursV = Reference.ToDoubles(ours.reshape(groups, -1));
        int n = patches[0][0].Length;
        var sa = new List<double>();
        double sigma1 = 0;
        for (int g = 0; g < groups; g++)
        {
            using var wg = tensor(weights[g].SelectMany(r => r).ToArray(), [weights[g].Length, n], dtype: ScalarType.Float64);
            var (v1, singular) = Reference.Svd(wg);
            sigma1 = Math.Max(sigma1, singular[0]);
            var mine = oursV.AsSpan(g * n, n).ToArray();
            double cos = Reference.Cosine(v1, mine);
            Assert.True(Math.Abs(cos) > 0.999, $"group {g}: |cos| {Math.Abs(cos)}");
            var aligned = v1.Select(x => Math.Sign(cos) * x).ToArray();
            sa.AddRange(Reference.Alignments(patches[g], aligned));
        }

        var expected = Reference.Stats(sa.ToArray(), 20);
        Assert.Equal(patches[0].Length, m.InputRows);
        Reference.AssertMatches(expected, m.Stats, tolerance);
        Assert.Equal(sigma1, m.SpectralNorm, sigma1 * 1e-3);
        Assert.Equal(groups, watch.Groups);
    }
}
