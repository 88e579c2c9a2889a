using SpectralAlign.Hooks;
using SpectralAlign.Tests.Support;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace SpectralAlign.Tests.Hooks;

/// <summary>
/// <see cref="ConvolutionPatches"/> gathers only the sampled patches; the reference is the full unfold the hook used to
/// build on every measured call (the input cast to float32, padded in the layer's mode, unfolded, split by group),
/// on hand-built inputs whose every value is distinct and non-zero, so a wrong source position or pad shows.
/// </summary>
[Collection(TorchCollection.Name)]
public sealed class ConvolutionPatchesTests
{
    public static TheoryData<int, int, int, int, int, int, int, PaddingModes> Cases() => new()
    {
        // dimensions, channels, kernel, stride, padding (−1: Same), dilation, groups, mode
        { 2, 3, 3, 1, 0, 1, 1, PaddingModes.Zeros },
        { 2, 4, 3, 2, 1, 1, 1, PaddingModes.Zeros },
        { 2, 2, 3, 1, 2, 2, 1, PaddingModes.Zeros },
        { 2, 6, 3, 1, 1, 1, 3, PaddingModes.Zeros },
        { 2, 4, 2, 2, 1, 1, 2, PaddingModes.Zeros },
        { 2, 3, 3, 1, 1, 1, 1, PaddingModes.Reflect },
        { 2, 3, 3, 2, 1, 1, 1, PaddingModes.Replicate },
        { 2, 4, 3, 1, 2, 1, 2, PaddingModes.Circular },
        { 2, 5, 1, 1, 0, 1, 1, PaddingModes.Zeros },
        { 2, 3, 4, 1, -1, 2, 1, PaddingModes.Zeros },
        { 1, 4, 3, 1, 0, 1, 1, PaddingModes.Zeros },
        { 1, 4, 3, 2, 2, 2, 1, PaddingModes.Zeros },
        { 1, 4, 3, 1, 1, 1, 2, PaddingModes.Reflect },
        { 1, 4, 3, 3, 1, 1, 4, PaddingModes.Circular },
        { 1, 4, 5, 1, 2, 1, 1, PaddingModes.Replicate },
        { 1, 3, 4, 1, -1, 2, 1, PaddingModes.Zeros },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Select_AnyRows_EqualsTheFullUnfoldsRowsBitForBit(int dimensions, int channels, int kernel, int stride, int padding, int dilation, int groups, PaddingModes mode)
    {
        using var scope = NewDisposeScope();
        var conv = Convolution(dimensions, channels, kernel, stride, padding, dilation, groups, mode);
        foreach (var dtype in new[] { ScalarType.Float32, ScalarType.Float64 })
        {
            long[] shape = dimensions == 2 ? [3, channels, 7, 6] : [3, channels, 11];
            var input = (arange(1, shape.Aggregate(1L, (a, b) => a * b) + 1, dtype: dtype) * 0.37).reshape(shape);
            var reference = Unfolded(conv, input);
            var patches = Adapter(conv).Patches(input);

            Assert.Equal(reference.shape[1], patches.Count);
            AssertSameRows(reference, patches.CopyAll());
            var sampled = randperm(patches.Count, generator: new Generator(5)).narrow(0, 0, Math.Min(13, patches.Count));
            AssertSameRows(reference.index_select(1, sampled), patches.Select(sampled));

            // Unbatched input: the rows of its one batch item.
            var single = input[0];
            AssertSameRows(Unfolded(conv, single.unsqueeze(0)), Adapter(conv).Patches(single).CopyAll());
        }
    }

    [Fact]
    public void Select_SampledRows_AllocatesNothingTheSizeOfTheInput()
    {
        using var outer = NewDisposeScope();
        var conv = Convolution(2, 4, 3, 1, 1, 1, 1, PaddingModes.Reflect);
        var input = Layers.Randn([8, 4, 16, 16], ScalarType.Float32, seed: 3);
        var patches = Adapter(conv).Patches(input);
        var sampled = randperm(patches.Count, generator: new Generator(4)).narrow(0, 0, 16);

        // The sample is 16 rows of 4·3·3 values; the hook used to build the whole unfold first, 8·256 rows of 36
        // (73,728 values, nine times the input's 8,192), and the same measure sees it.
        var (rows, largest) = LargestAllocated(() => patches.Select(sampled));
        Assert.Equal(16 * 36, rows.numel());
        Assert.InRange(largest, 1, rows.numel());
        var (unfolded, unfoldLargest) = LargestAllocated(() => Unfolded(conv, input).index_select(1, sampled));
        Assert.Equal(8 * 256 * 36, unfoldLargest);
        AssertSameRows(unfolded, rows);
    }

    /// <summary>The result of <paramref name="work"/> (moved to the caller's dispose scope) and the number of values of
    /// the largest tensor it created (every tensor it makes stays in its dispose scope until the scope ends).</summary>
    private static (Tensor Result, long Largest) LargestAllocated(Func<Tensor> work)
    {
        using var scope = NewDisposeScope();
        var result = work();
        long largest = scope.DisposablesView.OfType<Tensor>().Max(t => t.numel());
        return (result.MoveToOuterDisposeScope(), largest);
    }

    private static Convolution Convolution(int dimensions, int channels, int kernel, int stride, int padding, int dilation, int groups, PaddingModes mode)
    {
        manual_seed(2);
        int outChannels = 2 * groups;
        if (dimensions == 1)
        {
            return padding < 0
                ? nn.Conv1d(channels, outChannels, kernel, Padding.Same, dilation: dilation, padding_mode: mode, groups: groups)
                : nn.Conv1d(channels, outChannels, kernel, stride: stride, padding: padding, dilation: dilation, padding_mode: mode, groups: groups);
        }

        return padding < 0
            ? nn.Conv2d(channels, outChannels, (kernel, kernel), Padding.Same, dilation: (dilation, dilation), padding_mode: mode, groups: groups)
            : nn.Conv2d(channels, outChannels, (kernel, kernel), stride: (stride, stride), padding: (padding, padding), dilation: (dilation, dilation), padding_mode: mode, groups: groups);
    }

    /// <summary>Same shape, dtype and values, element by element.</summary>
    private static void AssertSameRows(Tensor expected, Tensor actual)
    {
        Assert.Equal(expected.shape, actual.shape);
        Assert.Equal(expected.dtype, actual.dtype);
        Assert.Equal(Reference.ToDoubles(expected), Reference.ToDoubles(actual));
    }

    private static ConvolutionAdapter Adapter(Convolution conv) => new(conv, "conv");

    /// <summary>The (G, B·L, n) rows as the hook built them before it sampled: cast, pad, unfold, split by group.</summary>
    private static Tensor Unfolded(Convolution conv, Tensor input)
    {
        int spatial = conv.kernel_size.Length;
        var x = input.to(ScalarType.Float32);
        var pad = new long[2 * spatial];   // F.pad's order: last dimension first
        for (int i = 0; i < spatial; i++)
        {
            long total = conv.padding is { } p ? 2 * p[i] : conv.dilation[i] * (conv.kernel_size[i] - 1);   // else Same
            long before = total / 2;
            pad[2 * (spatial - 1 - i)] = before;
            pad[(2 * (spatial - 1 - i)) + 1] = total - before;
        }

        if (pad.Any(p => p != 0))
            x = nn.functional.pad(x, pad, conv.padding_mode == PaddingModes.Zeros ? PaddingModes.Constant : conv.padding_mode, 0);
        long[] k = conv.kernel_size, d = conv.dilation, s = conv.stride;
        var columns = spatial == 1
            ? nn.functional.unfold(x.unsqueeze(2), (1, k[0]), (1, d[0]), (0, 0), (1, s[0]))
            : nn.functional.unfold(x, (k[0], k[1]), (d[0], d[1]), (0, 0), (s[0], s[1]));
        long batch = columns.shape[0], positions = columns.shape[2], groups = conv.groups;
        long n = columns.shape[1] / groups;
        return columns.view(batch, groups, n, positions).permute(1, 0, 3, 2).reshape(groups, batch * positions, n);
    }
}
