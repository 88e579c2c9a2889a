using TorchSharp;
using static TorchSharp.torch;

namespace SpectralAlign.Spectral;

/// <summary>
/// Batched, warm-started subspace (block power) iteration with a Rayleigh–Ritz step, for a stack of weights that
/// share a shape. Finds the top right singular vector v1 of each W (the principal direction in the input space,
/// <c>Vh[0]</c> of <c>torch.linalg.svd</c>), σ1, an estimate of σ2 and the residual, on the weights' device.
/// </summary>
internal static class SubspaceIteration
{
    /// <summary>The result of a Rayleigh–Ritz step; all tensors are batched over layers.</summary>
    /// <param name="Basis">(L, n, k) orthonormal Ritz vectors, descending, first column = v1 with its sign fixed.</param>
    /// <param name="V">(L, n) v1.</param>
    /// <param name="Sigma1">(L) σ1 of the scaled weights.</param>
    /// <param name="Sigma2">(L) σ2 estimate of the scaled weights (0 when k = 1).</param>
    /// <param name="Residual">(L) ‖WᵀW v1 − σ1² v1‖ / σ1² (0 when σ1 = 0).</param>
    /// <param name="U">Per run of the weights (units_r, m_r) u1 = W v1 / σ1 (zero when σ1 = 0), the sign matching v1's.</param>
    public readonly record struct Ritz(Tensor Basis, Tensor V, Tensor Sigma1, Tensor Sigma2, Tensor Residual, IReadOnlyList<Tensor> U);

    /// <summary>Runs <paramref name="iterations"/> steps of Q ← orth(WᵀW Q).</summary>
    /// <param name="w">(L, m, n) float32 weights.</param>
    /// <param name="basis">(L, n, k) start basis.</param>
    /// <param name="iterations">Number of steps (≥ 0).</param>
    /// <returns>The new orthonormal basis.</returns>
    public static Tensor Iterate(Tensor w, Tensor basis, int iterations) => Iterate(new WeightRuns(w), basis, iterations);

    /// <summary>Runs <paramref name="iterations"/> steps of Q ← orth(WᵀW Q).</summary>
    /// <param name="w">The (L, m_r, n) float32 weights in runs.</param>
    /// <param name="basis">(L, n, k) start basis.</param>
    /// <param name="iterations">Number of steps (≥ 0).</param>
    /// <returns>The new orthonormal basis.</returns>
    public static Tensor Iterate(WeightRuns w, Tensor basis, int iterations)
    {
        var q = basis;
        for (int i = 0; i < iterations; i++)
            q = linalg.qr(w.TransposeTimes(w.Times(q)), linalg.QRMode.Reduced).Item1;
        return q;
    }

    /// <summary>Multiply-adds per step that <see cref="IterateRuns"/> may spend on units that need no more steps so
    /// that the units on both sides iterate in one batched call (see there).</summary>
    internal const long BridgeBudget = 1 << 17;

    /// <summary>Runs <paramref name="iterations"/>[u] steps of Q ← orth(WᵀW Q) on unit u: every unit gets the
    /// smallest count in one batched call, then each maximal run of consecutive units that need more is iterated on
    /// its own (narrow views, no copy of the weights), so a few slow units do not make the whole stack iterate.
    /// Runs separated by a few small units are iterated as one (see <see cref="IterateRuns"/>).</summary>
    /// <param name="w">The (L, m_r, n) float32 weights in runs.</param>
    /// <param name="basis">(L, n, k) start basis (not written to).</param>
    /// <param name="iterations">Steps per unit (L values, each ≥ 0).</param>
    /// <returns>The new orthonormal basis, (L, n, k).</returns>
    public static Tensor Iterate(WeightRuns w, Tensor basis, int[] iterations)
    {
        int common = iterations.Min();
        var q = Iterate(w, basis, common);
        if (iterations.Max() == common)
            return q;
        if (common == 0)
            q = q.clone();   // written to below; the caller's basis must stay as it is
        IterateRuns(w, q, iterations, 0, iterations.Length, common, BridgeBudget / (2 * basis.shape[2]));
        return q;
    }

    /// <summary>Within units [<paramref name="from"/>, <paramref name="to"/>), all iterated <paramref name="done"/>
    /// times, gives each span of units that need more their common extra steps (written into <paramref name="q"/>),
    /// then recurses into the span. A span is a maximal run of units that need more, extended over a gap of units
    /// that need no more when the gap's weights hold at most <paramref name="gapSize"/> entries: each separate call
    /// costs about six small operations per step (about 5–10 µs each right after a training step), more than the
    /// gap's two products with k vectors. The gap's rows of the result are dropped: every unit gets exactly its own
    /// number of steps.</summary>
    private static void IterateRuns(WeightRuns w, Tensor q, int[] iterations, int from, int to, int done, long gapSize)
    {
        for (int start = from; start < to;)
        {
            if (iterations[start] <= done)
            {
                start++;
                continue;
            }

            int end = start + 1, least = iterations[start];
            bool bridged = false;
            while (end < to)
            {
                if (iterations[end] > done)
                {
                    least = Math.Min(least, iterations[end++]);
                    continue;
                }

                int next = end;
                while (next < to && iterations[next] <= done)
                    next++;
                if (next == to || w.Size(end, next - end) > gapSize)
                    break;
                bridged = true;
                end = next;
            }

            var span = q.narrow(0, start, end - start);
            var result = Iterate(w.Narrow(start, end - start), span, least - done);
            if (!bridged)
            {
                span.copy_(result);
            }
            else
            {
                for (int first = start; first < end;)
                {
                    int last = first;
                    while (last < end && iterations[last] > done)
                        last++;
                    if (last > first)
                        q.narrow(0, first, last - first).copy_(result.narrow(0, first - start, last - first));
                    while (last < end && iterations[last] <= done)
                        last++;
                    first = last;
                }
            }

            IterateRuns(w, q, iterations, start, end, least, gapSize);
            start = end;
        }
    }

    /// <summary>
    /// Extracts the Ritz pairs of WᵀW from the span of <paramref name="basis"/>, fixes v1's sign (aligned with
    /// <paramref name="reference"/> where <paramref name="hasReference"/>, otherwise so that its largest-magnitude
    /// component is positive) and computes the residual.
    /// </summary>
    /// <param name="w">(L, m, n) float32 weights.</param>
    /// <param name="basis">(L, n, k) orthonormal basis.</param>
    /// <param name="reference">(L, n) the previous v1 of each unit, or <c>null</c> when no unit has one.</param>
    /// <param name="hasReference">(L) bool: which units have a previous v1; <c>null</c> when all do (or none).</param>
    public static Ritz RayleighRitz(Tensor w, Tensor basis, Tensor? reference, Tensor? hasReference) =>
        RayleighRitz(new WeightRuns(w), basis, reference, hasReference);

    /// <summary>
    /// Extracts the Ritz pairs of WᵀW from the span of <paramref name="basis"/>, fixes v1's sign (aligned with
    /// <paramref name="reference"/> where <paramref name="hasReference"/>, otherwise so that its largest-magnitude
    /// component is positive) and computes the residual.
    /// </summary>
    /// <param name="w">The (L, m_r, n) float32 weights in runs.</param>
    /// <param name="basis">(L, n, k) orthonormal basis.</param>
    /// <param name="reference">(L, n) the previous v1 of each unit, or <c>null</c> when no unit has one.</param>
    /// <param name="hasReference">(L) bool: which units have a previous v1; <c>null</c> when all do (or none).</param>
    /// <param name="onHost">Whether to solve the k × k eigenproblems on the host (<see cref="SymmetricEigen"/>; the
    /// weights must be on the CPU), instead of with <c>linalg.eigh</c> and its conversions on the device.</param>
    public static Ritz RayleighRitz(WeightRuns w, Tensor basis, Tensor? reference, Tensor? hasReference, bool onHost = false)
    {
        long k = basis.shape[2];
        var bT = w.Times(basis);                                      // per run (L_r, k, m_r) = (W Q)ᵀ
        var gram = WeightRuns.Cat(bT.Select(b => bmm(b, b.transpose(1, 2))));  // (L, k, k) = Qᵀ WᵀW Q
        var (sigmas, vectors) = onHost ? HostEigen(gram, k) : DeviceEigen(gram);
        var ritz = bmm(basis, vectors);                               // (L, n, k), descending
        var v = ritz.select(2, 0);                                    // (L, n)
        var sigma1 = sigmas.narrow(1, k - 1, 1);                      // (L, 1)
        var zero = sigma1.eq(Scalars.Zero);

        // Sign: consistent with the previous v1 where there is one, deterministic otherwise (L, 1).
        var sign = reference is null ? ColdSign(v) : hasReference is null ? WarmSign(v, reference) : where(hasReference.unsqueeze(1), WarmSign(v, reference), ColdSign(v));
        v.mul_(sign);

        // u1 = W v1 / σ1 from (W Q)ᵀ and v1's coordinates in Q, scaled (and signed) before the product.
        var factor = (sign / sigma1).masked_fill_(zero, Scalars.Zero);   // (L, 1)
        var top = w.Parts(vectors.select(2, 0).mul(factor).unsqueeze(1));  // per run (L_r, 1, k)
        var uT = bT.Select((b, r) => bmm(top[r], b)).ToList();         // per run (L_r, 1, m_r) = u1ᵀ

        // Residual of the top Ritz pair: ‖WᵀW v1 − σ1² v1‖ / σ1² = ‖Wᵀu1 − σ1 v1‖ / σ1.
        var wtu = WeightRuns.Cat(w.Runs.Select((x, r) => bmm(uT[r], x))).squeeze(1);   // (L, n) = (Wᵀ u1)ᵀ
        var residual = linalg.norm(wtu.addcmul_(sigma1, v, Scalars.MinusOne), [1], true).div_(sigma1).masked_fill_(zero, Scalars.Zero).squeeze(1);
        var u = uT.Select(y => y.squeeze(1)).ToList();                // per run (L_r, m_r)
        var sigma2 = k > 1 ? sigmas.select(1, k - 2) : zeros_like(residual);

        return new Ritz(ritz, v, sigma1.squeeze(1), sigma2, residual, u);
    }

    /// <summary>σ (L, k) float32, ascending (the square roots of the Ritz values, clamped at 0), and the Ritz
    /// vectors' coordinates (L, k, k) float32, columns in descending order of the values — by LAPACK's eigh.</summary>
    /// <remarks>
    /// The k × k eigenproblem in float64 and finite: LAPACK's eigh fails outright ("failed to converge") on float32
    /// Gram matrices of extreme weights, and one failure would lose every layer's step. eigh reads only the lower
    /// triangle, so the product's rounding asymmetry does not matter. On CUDA, libtorch's eigh reads its solver status
    /// back (a synchronisation) once per call, i.e. once per bucket and compute round: the host waits for the bucket's
    /// iteration kernels before it enqueues the statistics, a stall on top of the step's one result transfer. Not
    /// measured here (no GPU); avoiding it would need a device-side k × k solver.
    /// </remarks>
    private static (Tensor Sigmas, Tensor Vectors) DeviceEigen(Tensor gram)
    {
        var (values64, vectors64) = linalg.eigh(gram.to(ScalarType.Float64).nan_to_num_(0, 0, 0));   // ascending
        return (values64.to(ScalarType.Float32).clamp_min_(Scalars.Zero).sqrt_(), vectors64.flip(-1).to(ScalarType.Float32));
    }

    /// <summary>What <see cref="DeviceEigen"/> gives, for a Gram tensor on the CPU, solved on the host where it is
    /// (<see cref="SymmetricEigen"/>, float64, lower triangle, non-finite entries read as 0): two new tensors instead
    /// of seven operations and a batched LAPACK call.</summary>
    private static (Tensor Sigmas, Tensor Vectors) HostEigen(Tensor gram, long k)
    {
        var contiguous = gram.is_contiguous() ? gram : gram.contiguous();
        long units = contiguous.shape[0];
        var values = new double[units * k];
        var coordinates = new double[units * k * k];
        SymmetricEigen.Decompose(HostMemory.Span<float>(contiguous), (int)k, values, coordinates);
        var sigmas = new float[values.Length];
        for (int i = 0; i < sigmas.Length; i++)
            sigmas[i] = MathF.Sqrt(Math.Max(0f, (float)values[i]));   // as float32 sqrt of the clamped float32 value
        var vectors = new float[coordinates.Length];
        for (int i = 0; i < vectors.Length; i++)
            vectors[i] = (float)coordinates[i];
        return (tensor(sigmas, [units, k]), tensor(vectors, [units, k, k]));
    }

    /// <summary>(L, 1): −1 where v disagrees with the previous v1 (negative dot product), else +1.</summary>
    private static Tensor WarmSign(Tensor v, Tensor reference)
    {
        var dot = (v * reference).sum(1, keepdim: true);
        return ones_like(dot).masked_fill_(dot.lt(Scalars.Zero), Scalars.MinusOne);
    }

    /// <summary>(L, 1): −1 where v's largest-magnitude component is negative, else +1.</summary>
    private static Tensor ColdSign(Tensor v)
    {
        var largest = v.gather(1, v.abs().argmax(1, keepdim: true));
        return ones_like(largest).masked_fill_(largest.lt(Scalars.Zero), Scalars.MinusOne);
    }
}
