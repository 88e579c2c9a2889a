using TorchSharp;
using TorchSharp.Modules;

namespace SpectralAlign.Hooks;

/// <summary>
/// How a convolution reads its input, per spatial dimension (in the input's order): kernel size, stride, dilation,
/// the padding before and after (explicit, or what <c>Padding.Same</c> applies), the padding mode and the groups.
/// </summary>
internal sealed record ConvolutionGeometry(long[] Kernel, long[] Stride, long[] Dilation, long[] PaddingBefore, long[] PaddingAfter, PaddingModes Mode, int Groups)
{
    /// <summary>Πk, the kernel's positions.</summary>
    public long KernelVolume => Kernel.Aggregate(1L, (a, b) => a * b);

    /// <summary>The geometry of <paramref name="conv"/>.</summary>
    public static ConvolutionGeometry Of(Convolution conv)
    {
        int spatial = conv.kernel_size.Length;
        long[] before = new long[spatial], after = new long[spatial];
        for (int i = 0; i < spatial; i++)
        {
            if (conv.padding is { } p)
            {
                before[i] = after[i] = p[i];
            }
            else if (conv.padding_type == Padding.Same)
            {
                long total = conv.dilation[i] * (conv.kernel_size[i] - 1);
                before[i] = total / 2;
                after[i] = total - before[i];
            }
        }

        return new ConvolutionGeometry(conv.kernel_size, conv.stride, conv.dilation, before, after, conv.padding_mode, (int)conv.groups);
    }

    /// <summary>The output size along spatial dimension <paramref name="dimension"/> for an input of
    /// <paramref name="size"/> there (0 when the padded input is smaller than the dilated kernel).</summary>
    public long OutputSize(int dimension, long size)
    {
        long span = size + PaddingBefore[dimension] + PaddingAfter[dimension] - (Dilation[dimension] * (Kernel[dimension] - 1)) - 1;
        return span < 0 ? 0 : (span / Stride[dimension]) + 1;
    }
}
