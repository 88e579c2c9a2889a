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
/// The rows arrive in the capture's dtype (<see cref="RowStack"/>: float32 unless they are float64); their largest
/// |element| and the zeroing of non-finite entries are exact there, and only then are they widened to float64, so
/// neither 1e30 nor denormal float32 rows overflow or underflow in the norms (every float32, bfloat16 or float16
/// value squares into float64's range). Full passes over the rows: two reductions for |h|max and one in-place zeroing
/// in the narrow dtype, the widening copy, one norm and three matrix-vector products (h̄, hᵢ·h̄ once per
/// measurement, hᵢ·v per call), each with the narrow factor on the left (see WeightRuns.Times).
/// </remarks>
internal sealed class RowAlignment
{
    /// <summary>A centred row shorter than this fraction of its row is treated as zero (its centred SA is NaN):
    /// the centred norm comes from ‖hᵢ‖² − 2hᵢ·h̄ + ‖h̄‖², exact in float64 to about 1e-8 of ‖hᵢ‖.</summary>
    public const double CenteredFloor = 1e-6;

    private static readonly Scalar s_floorSquared = (CenteredFloor * CenteredFloor).ToScalar();

    private readonly Tensor _rows;          // (units, M, n) float64, non-finite entries zeroed
    private readonly Tensor _mean;          // (units, n) h̄
    private readonly Tensor _norm;          // (units, M) ‖hᵢ‖
    private readonly Tensor _centeredSquared;   // (units, M) ‖hᵢ − h̄‖² = ‖hᵢ‖² − 2hᵢ·h̄ + ‖h̄‖² (clamped at 0)
    private readonly Tensor _belowFloor;    // (units, M) ‖hᵢ − h̄‖ ≤ CenteredFloor·‖hᵢ‖
    private readonly Tensor _meanNorm;      // (units) ‖h̄‖
    private readonly Tensor _rowMax;        // (units, M) in the rows' dtype
    private readonly long _layers;
    private readonly int _groups;

    /// <summary>The parts that do not depend on v1, computed once per measurement.</summary>
    /// <param name="stack">The bucket's rows; its <see cref="RowStack.Rows"/> are overwritten (non-finite entries
    /// are zeroed).</param>
    public RowAlignment(RowStack stack)
    {
        var rows = stack.Rows;
        int groups = _groups = stack.Groups;
        _layers = rows.shape[0] / groups;
        _rowMax = rows.amax([2]).maximum(rows.amin([2]).neg());     // NaN propagates; two reads, no |h| written
        var valid = _rowMax.isfinite().logical_and(_rowMax.gt(Scalars.Zero));
        var validF = valid.to(ScalarType.Float64);
        // A non-finite row must not reach the sums below: zeroed in the narrow dtype (fewer bytes), then widened.
        _rows = rows.nan_to_num_(0, 0, 0).to(ScalarType.Float64);
        _norm = linalg.norm(_rows, [2], false);
        var normSquared = _norm.pow(Scalars.Two);
        var count = validF.sum([1], keepdim: true);
        _mean = bmm((validF / count.clamp_min(Scalars.One)).unsqueeze(1), _rows).squeeze(1);
        var meanNormSquared = _mean.pow(Scalars.Two).sum([1], keepdim: true);
        _meanNorm = meanNormSquared.sqrt().squeeze(1);
        var dotMean = bmm(_mean.unsqueeze(1), _rows.transpose(1, 2)).squeeze(1);                // hᵢ·h̄
        _centeredSquared = (normSquared - (Scalars.Two * dotMean)).add(meanNormSquared, Scalars.One).clamp_min(Scalars.Zero);
        _belowFloor = _centeredSquared.le(normSquared * s_floorSquared);
        MaxRowNorm = _norm.masked_fill(valid.logical_not(), Scalars.Zero).view(_layers, -1).amax([1]);
    }

    /// <summary>(L) largest ‖hᵢ‖ among each layer's valid rows.</summary>
    public Tensor MaxRowNorm { get; }

    /// <summary>Adds <see cref="ResultField.RowMaxAbs"/>, <see cref="ResultField.Cosines"/>,
    /// <see cref="ResultField.CenteredCosines"/>, <see cref="ResultField.InputMeanAlignment"/> and
    /// <see cref="ResultField.MaxRowNorm"/> for the unit vectors <paramref name="v"/> (L·G, n) to
    /// <paramref name="columns"/>.</summary>
    public void Compute(Tensor v, Dictionary<ResultField, Tensor> columns)
    {
        var v64 = v.to(ScalarType.Float64);
        var dotV = bmm(v64.unsqueeze(1), _rows.transpose(1, 2)).squeeze(1);   // hᵢ·v, (units, M)
        var meanV = (_mean * v64).sum([1], keepdim: true);           // h̄·v
        var cosine = (dotV / _norm).clamp(Scalars.MinusOne, Scalars.One);
        var centered = ((dotV - meanV) / _centeredSquared.sqrt()).clamp(Scalars.MinusOne, Scalars.One)
            .masked_fill(_belowFloor, Scalars.NaN);

        var unitMeanAlignment = (meanV.squeeze(1) / _meanNorm.masked_fill(_meanNorm.eq(Scalars.Zero), Scalars.One)).clamp(Scalars.MinusOne, Scalars.One);
        columns[ResultField.InputMeanAlignment] = unitMeanAlignment.view(_layers, _groups).mean([1]);
        columns[ResultField.MaxRowNorm] = MaxRowNorm;
        columns[ResultField.RowMaxAbs] = _rowMax.view(_layers, -1);
        columns[ResultField.Cosines] = cosine.view(_layers, -1);
        columns[ResultField.CenteredCosines] = centered.view(_layers, -1);
    }
}
