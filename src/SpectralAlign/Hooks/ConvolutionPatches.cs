using SpectralAlign.Spectral;
using TorchSharp;
using static TorchSharp.torch;

namespace SpectralAlign.Hooks;

/// <summary>
/// A convolution's input patches as rows, (G, B·L, n) in (batch, output position) order with each row in the
/// weight's (channel, kernel…) order — what padding the input (the layer's own mode) and unfolding it per group gives
/// — gathered straight from the input for the requested rows only: nothing of the size of the unfolded (or even the
/// padded) input is built. Values are cast to float32 as the unfolded patches were.
/// </summary>
internal sealed class ConvolutionPatches : RowSource
{
    // Integer operands for index arithmetic (Scalars' are floating point, which integer alphas reject).
    private static readonly Scalar Zero = 0L.ToScalar();
    private static readonly Scalar One = 1L.ToScalar();
    private static readonly Scalar MinusOne = (-1L).ToScalar();

    private readonly Tensor _input;
    private readonly ConvolutionGeometry _geometry;
    private readonly long[] _outputSizes;
    private readonly long _positions;

    /// <param name="input">The batched input (B, C, spatial…).</param>
    /// <param name="geometry">The convolution's kernel, stride, dilation, padding and groups.</param>
    public ConvolutionPatches(Tensor input, ConvolutionGeometry geometry)
    {
        _input = input;
        _geometry = geometry;
        int spatial = geometry.Kernel.Length;
        _outputSizes = new long[spatial];
        _positions = 1;
        for (int i = 0; i < spatial; i++)
        {
            _outputSizes[i] = Math.Max(0, geometry.OutputSize(i, input.shape[2 + i]));
            _positions *= _outputSizes[i];
        }
    }

    public override long Count => _input.shape[0] * _positions;

    public override Device Device => _input.device;

    public override Tensor CopyAll()
    {
        using var count = Count.ToScalar();
        return Select(arange(Zero, count, One, ScalarType.Int64, _input.device));
    }

    /// <summary>Row r is batch item r / L at output position r mod L (row-major over the output's spatial sizes);
    /// its value at (channel c, kernel offset u…) is the input at c and coordinates (position·stride − padding +
    /// u·dilation)…, mapped back into the input by the padding mode, or 0 outside it with zero padding. Every number
    /// passed to TorchSharp is a <see cref="Scalar"/> kept alive across the call (see <see cref="Scalars"/>).</summary>
    public override Tensor Select(Tensor index)
    {
        int spatial = _outputSizes.Length;
        long take = index.shape[0], channels = _input.shape[1];
        var device = index.device;
        var indices = new TensorIndex[2 + spatial];
        using var positions = _positions.ToScalar();
        using var channelCount = channels.ToScalar();
        indices[0] = TensorIndex.Tensor(index.div(positions, RoundingMode.floor).view(Shape(take, 1, -1, 1)));
        indices[1] = TensorIndex.Tensor(arange(Zero, channelCount, One, ScalarType.Int64, device).view(Shape(1, channels, -1, 1)));
        var position = index.remainder(positions);
        Tensor? outside = null;
        long below = _positions;
        for (int i = 0; i < spatial; i++)
        {
            below /= _outputSizes[i];
            long kernel = _geometry.Kernel[i];
            using var belowScalar = below.ToScalar();
            using var outputSize = _outputSizes[i].ToScalar();
            using var stride = _geometry.Stride[i].ToScalar();
            using var paddingBefore = _geometry.PaddingBefore[i].ToScalar();
            using var kernelSize = kernel.ToScalar();
            using var dilation = _geometry.Dilation[i].ToScalar();
            var output = position.div(belowScalar, RoundingMode.floor).remainder(outputSize);
            var offsets = arange(Zero, kernelSize, One, ScalarType.Int64, device).mul(dilation);
            var coordinate = output.unsqueeze(1).mul(stride).add(paddingBefore, MinusOne).add(offsets, One);   // (take, k)
            var (source, invalid) = Map(coordinate, _input.shape[2 + i]);
            var shape = Shape(take, 1, i, kernel);
            indices[2 + i] = TensorIndex.Tensor(source.view(shape));
            if (invalid is not null)
                outside = outside is null ? invalid.view(shape) : outside.logical_or(invalid.view(shape));
        }

        var patches = _input.index(indices).to(ScalarType.Float32);   // (take, C, k…)
        if (outside is not null)
            patches = patches.masked_fill(outside, Scalars.Zero);
        int groups = _geometry.Groups;
        return patches.reshape(take, groups, channels / groups * _geometry.KernelVolume).permute(1, 0, 2).contiguous();

        // (first, second, 1…) with `size` at spatial slot `slot` (none when slot is −1).
        long[] Shape(long first, long second, int slot, long size)
        {
            var shape = new long[2 + spatial];
            shape[0] = first;
            shape[1] = second;
            for (int j = 0; j < spatial; j++)
                shape[2 + j] = j == slot ? size : 1;
            return shape;
        }
    }

    /// <summary>The input coordinates along one dimension of size <paramref name="size"/> that the padded
    /// coordinates <paramref name="coordinate"/> read, and (zero padding only) which of them read a zero.</summary>
    private (Tensor Source, Tensor? Invalid) Map(Tensor coordinate, long size)
    {
        using var extent = size.ToScalar();
        using var last = (size - 1).ToScalar();
        using var mirror = (2 * (size - 1)).ToScalar();
        switch (_geometry.Mode)
        {
            case PaddingModes.Reflect:
                var distance = coordinate.abs();
                return (where(distance.ge(extent), distance.neg().add(mirror, One), distance), null);
            case PaddingModes.Replicate:
                return (coordinate.clamp(Zero, last), null);
            case PaddingModes.Circular:
                return (coordinate.remainder(extent), null);
            default:
                return (coordinate.clamp(Zero, last), coordinate.lt(Zero).logical_or(coordinate.ge(extent)));
        }
    }
}
