using TorchSharp;
using static TorchSharp.torch;

namespace SpectralAlign.Spectral;

/// <summary>
/// Device-side statistics of SA_i = cos(h_i, v1) for a stack of layers that share a weight shape: no host
/// synchronisation, a fixed number of tensor operations whatever the number of layers.
/// </summary>
internal static class AlignmentStatistics
{
    /// <summary>Values with |SA| at or below this count half positive, half negative.</summary>
    public const float ZeroTolerance = 1e-6f;

    /// <summary>
    /// Computes the statistics columns (see <see cref="ResultColumns"/>, up to <see cref="ResultColumns.StatisticsWidth"/>)
    /// and the histogram, as float64.
    /// </summary>
    /// <param name="rows">(L, M, n) input rows, any floating dtype, padded beyond each layer's length.</param>
    /// <param name="lengths">(L) int64: rows present per layer.</param>
    /// <param name="v">(L, n) float32 unit singular vectors.</param>
    /// <param name="bins">Histogram bins over [-1, 1].</param>
    /// <returns>(Statistics (L, 16), Histogram (L, bins)), float64. Never NaN.</returns>
    public static (Tensor Statistics, Tensor Histogram) Compute(Tensor rows, Tensor lengths, Tensor v, int bins)
    {
        var device = rows.device;
        long layers = rows.shape[0];
        long capacity = rows.shape[1];
        var h = rows.to(ScalarType.Float32);

        var present = arange(capacity, dtype: ScalarType.Int64, device: device).unsqueeze(0).lt(lengths.unsqueeze(1));
        var absMax = h.abs().amax([2]);                       // NaN and ±Inf propagate
        var finiteRow = absMax.isfinite().logical_and(present);
        var nonZero = absMax.gt(0);
        var valid = finiteRow.logical_and(nonZero);
        var invalid = valid.logical_not();
        var validF = valid.to(ScalarType.Float32);

        // Scale every row by its largest element first: cos is scale-invariant, and this keeps 1e30 rows from
        // overflowing and denormal rows from underflowing in the norm.
        var rowScale = absMax.masked_fill(invalid, 1);
        var scaled = (h / rowScale.unsqueeze(2)).masked_fill(invalid.unsqueeze(2), 0);
        var norms = linalg.vector_norm(scaled, 2, [2], false).masked_fill(invalid, 1);
        var dots = bmm(scaled, v.unsqueeze(2)).squeeze(2);
        var sa = (dots / norms).clamp(-1, 1).masked_fill(invalid, 0);

        var count = validF.sum(1);
        var denominator = count.clamp_min(1);
        var empty = count.eq(0);
        var mean = sa.sum(1) / denominator;
        var deviation = (sa - mean.unsqueeze(1)) * validF;
        var std = (deviation.square().sum(1) / denominator).sqrt();
        var positive = sa.gt(ZeroTolerance).logical_and(valid).to(ScalarType.Float32).sum(1);
        var zero = sa.abs().le(ZeroTolerance).logical_and(valid).to(ScalarType.Float32).sum(1);
        var positiveFraction = ((positive + 0.5 * zero) / denominator).masked_fill(empty, 0);

        // Quantiles: sort with invalid entries pushed past the end, interpolate between order statistics.
        var sorted = sa.masked_fill(invalid, 2).sort(1).Values;
        var last = (count - 1).clamp_min(0);
        var levels = tensor(ResultColumns.QuantileLevels, device: device);
        var position = last.unsqueeze(1) * levels.unsqueeze(0);
        var lower = position.floor();
        var fraction = position - lower;
        var lowerIndex = lower.to(ScalarType.Int64);
        var upperIndex = (lowerIndex + 1).minimum(last.to(ScalarType.Int64).unsqueeze(1));
        var quantiles = (sorted.gather(1, lowerIndex) * (1 - fraction) + sorted.gather(1, upperIndex) * fraction)
            .masked_fill(empty.unsqueeze(1), 0);

        // Histogram over [-1, 1] by scatter-add into one flat (L·bins) buffer.
        var bin = ((sa + 1) * (bins / 2.0)).floor().clamp(0, bins - 1).to(ScalarType.Int64);
        var offsets = (arange(layers, dtype: ScalarType.Int64, device: device) * bins).unsqueeze(1);
        var histogram = zeros(layers * bins, dtype: ScalarType.Float32, device: device)
            .scatter_add_(0, (bin + offsets).flatten(), validF.flatten())
            .view(layers, bins);

        // Alignment of the mean input with v1: Σ h_i = maxScale · Σ (rowScale_i / maxScale) · scaled_i.
        var maxScale = absMax.masked_fill(invalid, 0).amax([1], keepdim: true);
        var weights = rowScale / maxScale.masked_fill(maxScale.eq(0), 1) * validF;
        var rowSum = bmm(weights.unsqueeze(1), scaled).squeeze(1);
        var rowSumNorm = linalg.vector_norm(rowSum, 2, [1], false);
        var meanAlignment = ((rowSum * v).sum(1) / rowSumNorm.masked_fill(rowSumNorm.eq(0), 1)).clamp(-1, 1);

        var maxAbsInput = absMax.masked_fill(finiteRow.logical_not(), 0).amax([1]);
        var zeroRows = finiteRow.logical_and(nonZero.logical_not()).to(ScalarType.Float32).sum(1);
        var nonFiniteRows = present.logical_and(absMax.isfinite().logical_not()).to(ScalarType.Float32).sum(1);

        var statistics = cat(
            [
                lengths.to(ScalarType.Float32).unsqueeze(1), count.unsqueeze(1), zeroRows.unsqueeze(1), nonFiniteRows.unsqueeze(1),
                mean.unsqueeze(1), std.unsqueeze(1), positiveFraction.unsqueeze(1), quantiles,
                meanAlignment.unsqueeze(1), maxAbsInput.unsqueeze(1),
            ],
            1).to(ScalarType.Float64);
        return (statistics, histogram.to(ScalarType.Float64));
    }
}
