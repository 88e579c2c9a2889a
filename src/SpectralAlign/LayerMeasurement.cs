namespace SpectralAlign;

/// <summary>
/// Everything the monitor measured for one watched layer at one measured step. Immutable; raised through
/// <see cref="SpectralMonitor.Measured"/>.
/// </summary>
/// <remarks>
/// Spectral quantities refer to the weight as it is when <see cref="SpectralMonitor.Step()"/> runs (after the
/// optimizer step); the input rows are those the layer saw during the forward pass(es) of that step.
/// </remarks>
public sealed class LayerMeasurement
{
    /// <summary>Name the layer was watched under.</summary>
    public required string Layer { get; init; }

    /// <summary>Zero-based training step (the value of <see cref="SpectralMonitor.CurrentStep"/> during the forward
    /// pass that produced the inputs).</summary>
    public long Step { get; init; }

    /// <summary>Distribution of SA over the sampled input rows.</summary>
    public SpectralAlignmentStats Stats { get; init; } = SpectralAlignmentStats.Empty;

    /// <summary>Distribution of the centred alignment cos(hᵢ − h̄, v1) over the same rows, h̄ being the mean of the
    /// valid sampled rows (of each group): SA with the batch-mean input removed, which in healthy layers often
    /// dominates <see cref="Stats"/> (see <see cref="InputMeanAlignment"/>). A row within 1e-6·‖hᵢ‖ of h̄ (e.g. the only
    /// valid row) has no centred direction and counts in its <see cref="SpectralAlignmentStats.ZeroRows"/>.</summary>
    public SpectralAlignmentStats CenteredStats { get; init; } = SpectralAlignmentStats.Empty;

    /// <summary>Spectral norm σ1 of the weight (largest singular value); +∞ when the weight is not finite
    /// (<see cref="MeasurementConditions.NonFiniteWeight"/>).</summary>
    public double SpectralNorm { get; init; }

    /// <summary>Estimate of the second singular value σ2 (0 when the subspace has a single dimension).</summary>
    public double SecondSingularValue { get; init; }

    /// <summary>σ2/σ1 in [0, 1]: close to 1 means the top singular values are nearly tied and v1 is ill-determined.</summary>
    public double GapRatio => SpectralNorm > 0 ? SecondSingularValue / SpectralNorm : 0;

    /// <summary>Frobenius norm ‖W‖_F of the weight; +∞ when the weight is not finite.</summary>
    public double FrobeniusNorm { get; init; }

    /// <summary>Stable rank ‖W‖²_F / σ1² (≥ 1 for a non-zero weight; 0 when σ1 is 0 or not finite).</summary>
    public double StableRank => SpectralNorm > 0 && double.IsFinite(SpectralNorm) ? FrobeniusNorm * FrobeniusNorm / (SpectralNorm * SpectralNorm) : 0;

    /// <summary>Relative residual ‖WᵀW v − σ1² v‖ / σ1² of the reported singular vector.</summary>
    public double Residual { get; init; }

    /// <summary>Subspace-iteration steps spent on this measurement.</summary>
    public int Iterations { get; init; }

    /// <summary>Cosine between the mean of the sampled input rows and v1 (sign follows v1's convention).</summary>
    public double InputMeanAlignment { get; init; }

    /// <summary>Largest absolute value among the finite sampled input elements.</summary>
    public double MaxAbsInput { get; init; }

    /// <summary>Largest Euclidean norm ‖hᵢ‖ among the valid sampled input rows (0 when there is none); e.g. with the
    /// spectral norms of W_q and W_k it bounds an attention block's logits.</summary>
    public double MaxInputRowNorm { get; init; }

    /// <summary>
    /// Relative change of the weight since this layer's previous measurement, ‖W_t − W_prev‖_F / ‖W_t‖_F; NaN on the
    /// first measurement (also the first after restoring a saved state, or after a non-finite weight).
    /// </summary>
    /// <remarks>
    /// Estimated from a random sketch so that no copy of the weight is kept: the layer keeps only W·Ω, 16 columns
    /// per output row (Ω a fixed ±1 matrix from a private seed), whose squared distance divided by 16 is an unbiased
    /// estimate of ‖W_t − W_prev‖²_F. Its relative error is at most about 18% for a change of rank one and a few
    /// percent for the high-rank changes optimizer steps make; changes below about 1e-6 of ‖W‖ are at the float32
    /// rounding floor.
    /// </remarks>
    public double UpdateRatio { get; init; } = double.NaN;

    /// <summary>
    /// Alignment of this layer's top input direction with the top output direction of the layer that feeds it:
    /// |cos(u1 of the upstream weight, v1 of this weight)| in [0, 1], u1 being the upstream weight's top left singular
    /// vector (its output space) and v1 this weight's top right singular vector. NaN when the layer has no linked
    /// upstream layer (<see cref="SpectralMonitor.Link"/>, auto-linking in <see cref="SpectralMonitor.WatchAll"/>), when
    /// the two shapes do not fit (the upstream's output width ≠ this layer's input width, or different numbers of
    /// groups), or when either weight has no defined v1 (not finite, or zero).
    /// </summary>
    /// <remarks>
    /// <para>The product W_down·W_up has its largest possible gain σ1(W_down)·σ1(W_up) only when u1(up) ∥ v1(down):
    /// its top direction then passes through both layers undiminished, and so does a gradient flowing back (the
    /// Jacobian of the pair, ignoring the activation between them, is W_down·W_up). A value near 1 means adjacent
    /// layers' top directions line up: the "increasing alignment between adjacent layer Jacobians" that MSign
    /// (Feb 2026) names, with falling stable rank (<see cref="StableRank"/>), as a precursor of gradient explosion.
    /// The summary of that paper gives no formula; this is our reading of it, using the weights (the linear part of
    /// each layer's Jacobian) rather than the full input-dependent Jacobians. For random directions in n dimensions the
    /// value is about √(2/(πn)).</para>
    /// <para>Grouped weights (G, m, n), e.g. grouped convolutions, are linked group to group (both layers have the
    /// same G, the upstream group g feeding the downstream group g): the value is the largest of the G groups'
    /// |cos(u1ᵍ, v1ᵍ)|, the worst case for gradient growth. It is computed on the weights' device in the same pass
    /// and the same device→host transfer as the other statistics.</para>
    /// </remarks>
    public double UpstreamAlignment { get; init; } = double.NaN;

    /// <summary>Rows the layer's input had before subsampling, summed over the step's calls until every view of its
    /// watch had its full sample (later calls are not captured): with micro-batches of at least
    /// <see cref="SpectralMonitorOptions.MaxSamplesPerLayer"/> rows, the first micro-batch's.</summary>
    public long InputRows { get; init; }

    /// <summary>Conditions of this measurement (missing input, non-finite values, convergence).</summary>
    public MeasurementConditions Conditions { get; init; }

    /// <inheritdoc />
    public override string ToString() =>
        FormattableString.Invariant($"{Layer}@{Step}: {Stats} σ1={SpectralNorm:G4} σ2/σ1={GapRatio:0.000} srank={StableRank:0.00} [{Conditions}]");
}
