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
    /// <param name="U">(L, m) u1 = W v1 / σ1 (zero when σ1 = 0), the sign matching v1's.</param>
    public readonly record struct Ritz(Tensor Basis, Tensor V, Tensor Sigma1, Tensor Sigma2, Tensor Residual, Tensor U);

    /// <summary>Runs <paramref name="iterations"/> steps of Q ← orth(WᵀW Q).</summary>
    /// <param name="w">(L, m, n) float32 weights.</param>
    /// <param name="basis">(L, n, k) start basis.</param>
    /// <param name="iterations">Number of steps (≥ 0).</param>
    /// <returns>The new orthonormal basis.</returns>
    public static Tensor Iterate(Tensor w, Tensor basis, int iterations)
    {
        var q = basis;
        for (int i = 0; i < iterations; i++)
            q = linalg.qr(TransposeTimes(w, Times(w, q)), linalg.QRMode.Reduced).Item1;
        return q;
    }

    /// <summary>W·Q returned transposed, (L, k, m) = (W Q)ᵀ = Qᵀ Wᵀ: the CPU BLAS measured here is several times
    /// slower on a batched product with a narrow right factor (k columns) than on the same product with the
    /// narrow factor on the left (the operation-cost table of the benchmark shows the effect).</summary>
    /// <param name="w">(L, m, n).</param>
    /// <param name="q">(L, n, k).</param>
    /// <returns>(L, k, m), contiguous.</returns>
    public static Tensor Times(Tensor w, Tensor q) => bmm(q.transpose(1, 2).contiguous(), w.transpose(1, 2));

    /// <summary>Wᵀ·Y computed as (Yᵀ·W)ᵀ from Yᵀ: the CPU BLAS measured here multiplies a row-major W from the left
    /// about twice as fast as its transpose (the power-iteration section of the benchmark shows the effect).</summary>
    /// <param name="w">(L, m, n).</param>
    /// <param name="yTransposed">(L, k, m) = Yᵀ, e.g. from <see cref="Times"/>.</param>
    /// <returns>(L, n, k), a transposed view.</returns>
    public static Tensor TransposeTimes(Tensor w, Tensor yTransposed) => bmm(yTransposed, w).transpose(1, 2);

    /// <summary>
    /// Extracts the Ritz pairs of WᵀW from the span of <paramref name="basis"/>, fixes v1's sign (aligned with
    /// <paramref name="reference"/> where <paramref name="hasReference"/>, otherwise so that its largest-magnitude
    /// component is positive) and computes the residual.
    /// </summary>
    public static Ritz RayleighRitz(Tensor w, Tensor basis, Tensor reference, Tensor hasReference)
    {
        long k = basis.shape[2];
        var bT = Times(w, basis);                                     // (L, k, m) = (W Q)ᵀ
        var gram = bmm(bT, bT.transpose(1, 2));                       // (L, k, k) = Qᵀ WᵀW Q
        // The k × k eigenproblem in float64, symmetrised and finite: LAPACK's eigh fails outright ("failed to
        // converge") on float32 Gram matrices of extreme weights, and one failure would lose every layer's step.
        // On CUDA, libtorch's eigh reads its solver status back (a synchronisation) once per call, i.e. once per
        // bucket and compute round: the host waits for the bucket's iteration kernels before it enqueues the
        // statistics, a stall on top of the step's one result transfer. Not measured here (no GPU); avoiding it would
        // need a device-side k × k solver.
        var gram64 = gram.to(ScalarType.Float64).nan_to_num_(0, 0, 0);
        var (values64, vectors64) = linalg.eigh(gram64.add(gram64.transpose(1, 2), Scalars.One) * Scalars.Half);   // ascending
        var values = values64.to(ScalarType.Float32);
        var vectors = vectors64.to(ScalarType.Float32);
        values = values.flip(-1).clamp_min(Scalars.Zero);
        vectors = vectors.flip(-1);
        var ritz = bmm(basis, vectors);                               // (L, n, k), descending
        var v = ritz.select(2, 0);                                    // (L, n)
        var lambda1 = values.select(1, 0);
        var sigma2 = k > 1 ? values.select(1, 1).sqrt() : zeros_like(lambda1);

        // Residual of the top Ritz pair: ‖WᵀW v − λ1 v‖ / λ1.
        var wvT = bmm(vectors.narrow(2, 0, 1).transpose(1, 2), bT);  // (L, 1, m) = (W v)ᵀ
        var wtwv = TransposeTimes(w, wvT).squeeze(2);                 // (L, n)
        var safeLambda = lambda1.masked_fill(lambda1.eq(Scalars.Zero), Scalars.One);
        var residual = (linalg.norm(wtwv - lambda1.unsqueeze(1) * v, [1], false) / safeLambda)
            .masked_fill(lambda1.eq(Scalars.Zero), Scalars.Zero);

        // Sign: consistent with the previous v1 where there is one, deterministic otherwise.
        var agreement = (v * reference).sum(1);
        var warmSign = ones_like(agreement).masked_fill(agreement.lt(Scalars.Zero), Scalars.MinusOne);
        var largest = v.gather(1, v.abs().argmax(1, keepdim: true)).squeeze(1);
        var coldSign = ones_like(largest).masked_fill(largest.lt(Scalars.Zero), Scalars.MinusOne);
        var sign = where(hasReference, warmSign, coldSign);
        ritz.select(2, 0).mul_(sign.unsqueeze(1));
        var sigma1 = lambda1.sqrt();
        var u = wvT.squeeze(1) * (sign / sigma1.masked_fill(sigma1.eq(Scalars.Zero), Scalars.One)).masked_fill(sigma1.eq(Scalars.Zero), Scalars.Zero).unsqueeze(1);

        return new Ritz(ritz, ritz.select(2, 0), sigma1, sigma2, residual, u);
    }
}
