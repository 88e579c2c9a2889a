using TorchSharp;
using static TorchSharp.torch;

namespace SpectralAlign.Spectral;

/// <summary>
/// Device-side statistics of SA = cos(h, v1) for a stack of layers that share a view shape: no host
/// synchronisation, a fixed number of tensor operations whatever the number of layers. A layer with G groups
/// contributes G units (each with its own rows and v1); its distribution pools all of them.
/// </summary>
internal static class AlignmentStatistics
{
    /// <summary>Values with |SA| at or below this count half positive, half negative.</summary>
    public const float ZeroTolerance = 1e-6f;

    /// <summary>
    /// Adds the statistics fields of <see cref="ResultLayout"/> (every field from <see cref="ResultField.PresentRows"/>
    /// to <see cref="ResultField.MaxAbsInput"/>, and <see cref="ResultField.Histogram"/>) to <paramref name="columns"/>,
    /// one row per layer.
    /// </summary>
    /// <param name="rows">(L·G, M, n) input rows, any floating dtype, padded beyond each layer's length.</param>
    /// <param name="lengths">(L) int64: rows present per layer (the same for each of its groups).</param>
    /// <param name="v">(L·G, n) float32 unit singular vectors.</param>
    /// <param name="groups">G.</param>
    /// <param name="bins">Histogram bins over [-1, 1].</param>
    /// <param name="columns">Receives the fields. Never NaN.</param>
    public static void Compute(Tensor rows, Tensor lengths, Tensor v, int groups, int bins, Dictionary<ResultField, Tensor> columns)
    {
        var device = rows.device;
        long units = rows.shape[0];
        long layers = units / groups;
        long capacity = rows.shape[1];
        var h = rows.dtype == ScalarType.Float32 ? rows : rows.to(ScalarType.Float32);

        // Row-sized work is the monitor's largest memory traffic, so it uses only cheap full passes (abs, amax, one
        // division, nan_to_num, norm, two matrix products); masks are applied to the small per-row results instead.
        var unitLengths = groups == 1 ? lengths : lengths.repeat_interleave(groups);
        var present = arange(capacity, dtype: ScalarType.Int64, device: device).unsqueeze(0).lt(unitLengths.unsqueeze(1));
        var absMax = h.abs().amax([2]);                       // NaN and ±Inf propagate
        var finiteRow = absMax.isfinite().logical_and(present);
        var nonZero = absMax.gt(0);
        var valid = finiteRow.logical_and(nonZero);
        var invalid = valid.logical_not();
        var validF = valid.to(ScalarType.Float32);

        // Scale every row by its largest element first: cos is scale-invariant, and this keeps 1e30 rows from
        // overflowing and denormal rows from underflowing in the norm. Non-finite entries (only in invalid rows) are
        // zeroed so that they cannot reach the sums below; invalid rows are masked out of every per-row result.
        // (A division, not a multiplication by the reciprocal, which overflows for denormal rows.)
        var rowScale = absMax.masked_fill(invalid, 1);
        var scaled = (h / rowScale.unsqueeze(2)).nan_to_num_(0, 0, 0);
        var norms = linalg.vector_norm(scaled, 2, [2], false).masked_fill(invalid, 1);
        var dots = bmm(scaled, v.unsqueeze(2)).squeeze(2);
        // (A non-finite v1, reported separately, must not turn the histogram's bin indices into garbage.)
        var unitSa = (dots / norms).nan_to_num_(0, 0, 0).clamp(-1, 1).masked_fill(invalid, 0);

        // Alignment of each unit's mean input with its v1: Σ h_i = maxScale · Σ (rowScale_i / maxScale) · scaled_i.
        var maxScale = absMax.masked_fill(invalid, 0).amax([1], keepdim: true);
        var weights = rowScale / maxScale.masked_fill(maxScale.eq(0), 1) * validF;
        var rowSum = bmm(weights.unsqueeze(1), scaled).squeeze(1);
        var rowSumNorm = linalg.vector_norm(rowSum, 2, [1], false);
        var unitMeanAlignment = ((rowSum * v).sum(1) / rowSumNorm.masked_fill(rowSumNorm.eq(0), 1)).clamp(-1, 1);
        var meanAlignment = unitMeanAlignment.view(layers, groups).mean([1]);

        // From here on, one row per layer: its groups' values side by side.
        var sa = unitSa.view(layers, groups * capacity);
        var layerValid = valid.view(layers, groups * capacity);
        var layerInvalid = layerValid.logical_not();
        var layerValidF = validF.view(layers, groups * capacity);

        var count = layerValidF.sum(1);
        var denominator = count.clamp_min(1);
        var empty = count.eq(0);
        var mean = sa.sum(1) / denominator;
        var deviation = (sa - mean.unsqueeze(1)) * layerValidF;
        var std = (deviation.square().sum(1) / denominator).sqrt();
        var positive = sa.gt(ZeroTolerance).logical_and(layerValid).to(ScalarType.Float32).sum(1);
        var zero = sa.abs().le(ZeroTolerance).logical_and(layerValid).to(ScalarType.Float32).sum(1);
        var positiveFraction = ((positive + 0.5 * zero) / denominator).masked_fill(empty, 0);

        // Quantiles: sort with invalid entries pushed past the end, interpolate between order statistics.
        var sorted = sa.masked_fill(layerInvalid, 2).sort(1).Values;
        var last = (count - 1).clamp_min(0);
        var levels = tensor(ResultLayout.QuantileLevels, device: device);
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
            .scatter_add_(0, (bin + offsets).flatten(), layerValidF.flatten())
            .view(layers, bins);

        var maxAbsInput = absMax.masked_fill(finiteRow.logical_not(), 0).view(layers, groups * capacity).amax([1]);
        var zeroRows = finiteRow.logical_and(nonZero.logical_not()).to(ScalarType.Float32).view(layers, groups * capacity).sum(1);
        var nonFiniteRows = present.logical_and(absMax.isfinite().logical_not()).to(ScalarType.Float32).view(layers, groups * capacity).sum(1);

        columns[ResultField.PresentRows] = lengths;
        columns[ResultField.Count] = count;
        columns[ResultField.ZeroRows] = zeroRows;
        columns[ResultField.NonFiniteRows] = nonFiniteRows;
        columns[ResultField.Mean] = mean;
        columns[ResultField.StdDev] = std;
        columns[ResultField.PositiveFraction] = positiveFraction;
        columns[ResultField.Quantiles] = quantiles;
        columns[ResultField.InputMeanAlignment] = meanAlignment;
        columns[ResultField.MaxAbsInput] = maxAbsInput;
        columns[ResultField.Histogram] = histogram;
    }
}
