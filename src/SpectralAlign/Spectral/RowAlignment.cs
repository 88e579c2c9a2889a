using TorchSharp;
using static TorchSharp.torch;

namespace SpectralAlign.Spectral;

/// <summary>
/// The row-sized part of a measurement, on the device: for a stack of units (one per layer and group) with their
/// input rows and v1, each row's largest |element|, its norm ‖hᵢ‖ and its products hᵢ·v1 and hᵢ·S with the sum S of
/// the unit's valid rows. From these (after the one transfer) <see cref="AlignmentSummary"/> forms on the host each
/// row's SA = cos(hᵢ, v1) and centred SA = cos(hᵢ − h̄, v1) (h̄ = S / count), the input-mean alignment, the largest row
/// norm and the distributions' statistics: every (units, M)-sized step is host arithmetic on ≈ 7,400 values for the
/// demo model instead of some twenty small device operations.
/// </summary>
/// <remarks>
/// The rows arrive in the capture's dtype (<see cref="RowStack"/>: float32 unless they are float64); their largest
/// |element| is exact there, and then they are widened to float64 (into the engine's <see cref="RowWorkspace"/>, kept
/// between measurements), so neither 1e30 nor denormal float32 rows overflow or underflow in the norms (every float32,
/// bfloat16 or float16 value squares into float64's range). Full passes over the rows: two reductions for |h|max in the
/// narrow dtype, the widening copy, one in-place zeroing of non-finite entries, one norm and three matrix-vector products (S and hᵢ·S once per
/// measurement, hᵢ·v per call), each with its one-row factor on the left (see WeightRuns.Times): a two-row factor
/// [v, S] in one product is slower than two one-row products (a small matrix product instead of a matrix-vector one).
/// </remarks>
internal sealed class RowAlignment
{
    /// <summary>A centred row shorter than this fraction of its row is treated as zero (its centred SA is NaN):
    /// the centred norm comes from ‖hᵢ‖² − 2hᵢ·h̄ + ‖h̄‖², exact in float64 to about 1e-8 of ‖hᵢ‖.</summary>
    public const double CenteredFloor = 1e-6;

    private readonly Tensor _rows;          // (units, M, n) float64, non-finite entries zeroed
    private readonly Tensor _rowMax;        // (units, M) in the rows' dtype
    private readonly Tensor _norm;          // (units, M) ‖hᵢ‖
    private readonly Tensor _dotSum;        // (units, M) hᵢ·S
    private readonly long _layers;

    /// <summary>The parts that do not depend on v1, computed once per measurement.</summary>
    /// <param name="stack">The bucket's rows (only read, unless they are float64 already: then non-finite entries are
    /// zeroed in place).</param>
    /// <param name="workspace">Where the float64 copy goes (<see cref="RowWorkspace"/>), or <c>null</c> for a new
    /// tensor.</param>
    /// <param name="slot">The bucket's slot in <paramref name="workspace"/>.</param>
    public RowAlignment(RowStack stack, RowWorkspace? workspace = null, int slot = 0)
    {
        var rows = stack.Rows;
        _layers = rows.shape[0] / stack.Groups;
        _rowMax = rows.amax([2]).maximum(rows.amin([2]).neg());     // NaN propagates; two reads, no |h| written
        // 1 for a valid row, 0 for a zero or non-finite one: x / x is exactly 1 for every finite x ≠ 0 (denormals
        // too) and NaN for 0, ∞ and NaN. Three small operations, two of them kernels the rows need anyway: after a
        // training step each new kernel costs tens of µs (cold code), more than the small tensors it reads.
        var valid = _rowMax.div(_rowMax).nan_to_num_(0, 0, 0).to(ScalarType.Float64);
        // Widened (exactly), then a non-finite entry zeroed, so that no non-finite row reaches the sums below (the same
        // values as zeroing in the narrow dtype first: widening keeps every finite value and every NaN and ∞).
        _rows = (rows.dtype == ScalarType.Float64 || workspace is null ? rows.to(ScalarType.Float64) : workspace.Widen(slot, rows)).nan_to_num_(0, 0, 0);
        _norm = linalg.norm(_rows, [2], false);
        var sum = bmm(valid.unsqueeze(1), _rows);                   // (units, 1, n) S
        _dotSum = bmm(sum, _rows.transpose(1, 2)).squeeze(1);
    }

    /// <summary>Adds <see cref="ResultField.RowMaxAbs"/>, <see cref="ResultField.RowNorm"/>,
    /// <see cref="ResultField.RowDotVector"/> and <see cref="ResultField.RowDotSum"/> for the unit vectors
    /// <paramref name="v"/> (L·G, n) to <paramref name="columns"/>.</summary>
    public void Compute(Tensor v, Dictionary<ResultField, Tensor> columns)
    {
        var dotV = bmm(v.to(ScalarType.Float64).unsqueeze(1), _rows.transpose(1, 2));   // hᵢ·v, (units, 1, M)
        columns[ResultField.RowMaxAbs] = _rowMax.view(_layers, -1);
        columns[ResultField.RowNorm] = _norm.view(_layers, -1);
        columns[ResultField.RowDotVector] = dotV.view(_layers, -1);
        columns[ResultField.RowDotSum] = _dotSum.view(_layers, -1);
    }
}
