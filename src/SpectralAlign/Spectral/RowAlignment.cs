using TorchSharp;
using static TorchSharp.torch;

namespace SpectralAlign.Spectral;

/// <summary>
/// The row-sized part of a measurement, on the device: for a stack of units (one per layer and group) with their
/// input rows and v1, each row's SA = cos(hᵢ, v1), its centred SA = cos(hᵢ − h̄, v1) (h̄ the unit's mean valid row)
/// and its largest |element|, plus the per-layer input-mean alignment and largest row norm. The distributions'
/// statistics are computed from these on the host (<see cref="AlignmentSummary"/>), after the one transfer.
/// </summary>
/// <remarks>
/// <para>Every row is first divided by its own largest |element| sᵢ (in the stack's dtype, float32 unless the rows
/// are float64), so its entries lie in [−1, 1] with one of them ±1: nothing a float32 row can hold (1e30 or
/// denormal) overflows or underflows when squared, and cos(hᵢ, v) is scale-free. Non-finite and zero rows become
/// zero rows. h̄ is formed at the unit's common scale S = max sᵢ (weights sᵢ/S in [0, 1]) and corrected by a second
/// pass over the centred rows (a float32 sum of M rows alone is good to about M·ε only); the centred row hᵢ − h̄ is
/// materialised (once, for its norm) at the row's own scale, hᵢ/sᵢ − bᵢ·h̄/‖h̄‖∞ with bᵢ = ‖h̄‖∞/sᵢ, rather than
/// expanded as ‖hᵢ‖² − 2hᵢ·h̄ + ‖h̄‖², whose cancellation float32 could not afford. bᵢ is capped at 2⁵⁰: a row
/// below 2⁻⁵⁰ of the mean only changes its centred cosine by less than 1e-15.</para>
/// <para>Full passes over the rows: two reductions for |h|max, one scaling, one zeroing of non-finite rows, one
/// centring, two norms and four matrix-vector products (h̄, its correction, the centred rows' products with it, and
/// hᵢ·v); everything else is (units, M) or smaller, in float64.</para>
/// </remarks>
internal sealed class RowAlignment
{
    /// <summary>A centred row shorter than this fraction of its row is treated as zero (its centred SA is NaN).
    /// In float32 the centred row is exact to about 1e-7 of max(‖hᵢ‖, ‖h̄‖) (about 1e-16 in float64).</summary>
    public const double CenteredFloor = 1e-6;

    private static readonly Scalar s_floor = CenteredFloor.ToScalar();
    private static readonly Scalar s_largestMeanRatio = Math.Pow(2, 50).ToScalar();

    private readonly Tensor _rows;          // (units, M, n) hᵢ/sᵢ, zero for invalid rows; later the centred rows
    private readonly Tensor _scale;         // (units, M) float64 sᵢ, 0 for invalid rows
    private readonly Tensor _norm;          // (units, M) float64 ‖hᵢ‖/sᵢ (in [1, √n] for valid rows)
    private readonly Tensor _mean;          // (units, n) float64 h̄/‖h̄‖∞ (0 without a mean)
    private readonly Tensor _meanRatio;     // (units, M) float64 bᵢ = ‖h̄‖∞/sᵢ, capped (0 for invalid rows)
    private readonly Tensor _rowMax;        // (units, M) sᵢ in the stack's dtype, NaN/∞ for non-finite rows
    private readonly Tensor _centeredNorm;  // (units, M) float64 ‖hᵢ − h̄‖/sᵢ (capped bᵢ, see the remarks)
    private readonly long _layers;
    private readonly int _groups;

    /// <summary>The parts that do not depend on v1, computed once per measurement.</summary>
    /// <param name="stack">The bucket's rows; its <see cref="RowStack.Rows"/> are overwritten.</param>
    public RowAlignment(RowStack stack)
    {
        var rows = stack.Rows;
        int groups = _groups = stack.Groups;
        _layers = rows.shape[0] / groups;
        var dtype = rows.dtype;
        _rowMax = rows.amax([2]).maximum(rows.amin([2]).neg());   // max |hᵢⱼ|, NaN propagates (∞-norm does not); no |h| written
        var valid = _rowMax.isfinite().logical_and(_rowMax.gt(Scalars.Zero));
        _rows = rows.div_(_rowMax.unsqueeze(2)).nan_to_num_(0, 0, 0);             // 0/0, x/∞ and NaN rows become 0
        _norm = linalg.norm(_rows, [2], false).to(ScalarType.Float64);
        _scale = _rowMax.to(ScalarType.Float64).masked_fill(valid.logical_not(), Scalars.Zero);   // not in place: a float64 _rowMax is the same tensor
        MaxRowNorm = (_scale * _norm).view(_layers, -1).amax([1]);

        // h̄ at the unit's common scale S (its largest sᵢ): the rows weighted by Wᵢ = sᵢ/S (in the rows' dtype),
        // summed and divided by the count. A float32 sum of M rows is good to only about M·ε, too coarse for rows
        // that (nearly) equal their mean — identical rows must cancel below the floor — so one more pass sums the
        // centred rows, whose terms are small exactly where it matters, and the centred rows are corrected for it.
        var unitScale = _scale.amax([1], keepdim: true);
        var count = valid.sum([1], keepdim: true, type: ScalarType.Float64).clamp_min(Scalars.One);
        var weights = (_scale / unitScale.masked_fill(unitScale.eq(Scalars.Zero), Scalars.One)).to(dtype).unsqueeze(1);   // (units, 1, M) Wᵢ
        var weights64 = weights.squeeze(1).to(ScalarType.Float64);
        var mean = bmm(weights, _rows).squeeze(1).to(ScalarType.Float64) / count;             // (units, n) h̄/S
        var meanMax = mean.abs().amax([1], keepdim: true);                                   // μ = ‖h̄‖∞/S
        var hasMean = meanMax.gt(Scalars.Zero);
        var meanDivisor = meanMax.masked_fill(hasMean.logical_not(), Scalars.One);
        var meanUnit = (mean / meanDivisor).to(dtype);                                       // m̃ = h̄/‖h̄‖∞
        _meanRatio = (meanMax / weights64.masked_fill(valid.logical_not(), Scalars.One))       // bᵢ = μ/Wᵢ
            .clamp_max(s_largestMeanRatio).masked_fill_(valid.logical_not(), Scalars.Zero);
        using var centered = _rows.addcmul(_meanRatio.to(dtype).unsqueeze(2), meanUnit.unsqueeze(1), Scalars.MinusOne);   // Cᵢ = hᵢ/sᵢ − bᵢm̃

        // The mean's error, at m̃'s scale: ẽ = (Σ WᵢCᵢ − κm̃) / (count·μ), κ = Σ Wᵢ(bᵢ − capped bᵢ) = Σ (μ − Wᵢ·capped bᵢ)
        // over the valid rows (non-zero only for capped rows); then ‖Cᵢ − bᵢẽ‖² = ‖Cᵢ‖² − 2bᵢCᵢ·ẽ + bᵢ²‖ẽ‖², where
        // the small ẽ keeps the cancellation harmless.
        var kappa = (meanMax * valid.to(ScalarType.Float64) - (weights64 * _meanRatio)).sum([1], keepdim: true);
        var meanUnit64 = meanUnit.to(ScalarType.Float64);
        var error = (bmm(weights, centered).squeeze(1).to(ScalarType.Float64) - (meanUnit64 * kappa)) / (count * meanDivisor) * hasMean;
        _mean = meanUnit64.add(error, Scalars.One);
        var cross = bmm(error.to(dtype).unsqueeze(1), centered.transpose(1, 2)).squeeze(1).to(ScalarType.Float64);
        var centeredSquared = linalg.norm(centered, [2], false).to(ScalarType.Float64).pow(Scalars.Two);
        _centeredNorm = (centeredSquared - (Scalars.Two * _meanRatio * cross)).add(_meanRatio.pow(Scalars.Two) * error.pow(Scalars.Two).sum([1], keepdim: true), Scalars.One)
            .clamp_min(Scalars.Zero).sqrt();
    }

    /// <summary>(L) largest ‖hᵢ‖ among each layer's valid rows.</summary>
    public Tensor MaxRowNorm { get; }

    /// <summary>Adds <see cref="ResultField.RowMaxAbs"/>, <see cref="ResultField.Cosines"/>,
    /// <see cref="ResultField.CenteredCosines"/>, <see cref="ResultField.InputMeanAlignment"/> and
    /// <see cref="ResultField.MaxRowNorm"/> for the unit vectors <paramref name="v"/> (L·G, n) to
    /// <paramref name="columns"/>.</summary>
    public void Compute(Tensor v, Dictionary<ResultField, Tensor> columns)
    {
        var vRows = v.to(_rows.dtype);
        // (hᵢ/sᵢ)·v, the narrow factor on the left (see SubspaceIteration.Times); the centred rows' products follow
        // from it as (hᵢ/sᵢ)·v − bᵢ(h̄/‖h̄‖∞)·v, as exact as products of the materialised centred rows.
        var dotV = bmm(vRows.unsqueeze(1), _rows.transpose(1, 2)).squeeze(1).to(ScalarType.Float64);
        var meanV = (_mean * v.to(ScalarType.Float64)).sum([1], keepdim: true);   // (h̄/‖h̄‖∞)·v
        var cosine = (dotV / _norm).clamp(Scalars.MinusOne, Scalars.One);
        var centered = ((dotV - (_meanRatio * meanV)) / _centeredNorm).clamp(Scalars.MinusOne, Scalars.One)
            .masked_fill(_centeredNorm.le(_norm * s_floor), Scalars.NaN);

        var meanNorm = linalg.norm(_mean, [1], false);
        var unitMeanAlignment = (meanV.squeeze(1) / meanNorm.masked_fill(meanNorm.eq(Scalars.Zero), Scalars.One)).clamp(Scalars.MinusOne, Scalars.One);
        columns[ResultField.InputMeanAlignment] = unitMeanAlignment.view(_layers, _groups).mean([1]);
        columns[ResultField.MaxRowNorm] = MaxRowNorm;
        columns[ResultField.RowMaxAbs] = _rowMax.view(_layers, -1);
        columns[ResultField.Cosines] = cosine.view(_layers, -1);
        columns[ResultField.CenteredCosines] = centered.view(_layers, -1);
    }
}
