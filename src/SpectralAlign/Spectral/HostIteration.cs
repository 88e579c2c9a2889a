using static TorchSharp.torch;

namespace SpectralAlign.Spectral;

/// <summary>
/// <see cref="SubspaceIteration"/>'s warm-started iteration and Rayleigh–Ritz step for a bucket on the CPU whose
/// units are small (at most <see cref="MaxUnitSize"/> weight entries each), computed on the host unit by unit where
/// the weights are. For such units the arithmetic is a few microseconds, while the batched device operations cost
/// about 5–10 µs each right after a training step and a measured step of the demo model issued hundreds of them
/// (run splitting, QR, Rayleigh–Ritz). The products with W in float32 as BLAS computes them
/// (<see cref="MatrixKernels"/>); the QR (Householder, with LAPACK's <c>geqrf</c>/<c>orgqr</c> sign convention), the
/// Gram matrix, the k × k eigenproblems (<see cref="SymmetricEigen"/>), u1 and the residual in float64; v1's sign fixed
/// as there. So the results agree with the device path to float32 rounding.
/// </summary>
/// <remarks>The spans read here are over the caller's tensors and over contiguous copies made here, which the
/// caller's dispose scope (the engine's, around each measurement) keeps alive until it ends: call it inside
/// one.</remarks>
internal static class HostIteration
{
    /// <summary>Largest m·n of a unit iterated on the host: beyond it one unit's products take longer than the
    /// batched device operations' overhead saves (the host loops run on one thread, BLAS may use several).</summary>
    public const long MaxUnitSize = 1 << 16;

    /// <summary>Whether <see cref="Run"/> takes the bucket: every unit at most <see cref="MaxUnitSize"/> entries, the
    /// weights float32 on the CPU (where <see cref="WeightRuns.Stack"/> puts a CPU bucket's weights), and every run
    /// within one host span (TorchSharp's host view of a tensor holds at most <see cref="int.MaxValue"/> bytes).</summary>
    public static bool CanRun(WeightRuns weights)
    {
        for (int r = 0; r < weights.Runs.Count; r++)
        {
            var run = weights.Runs[r];
            long unit = weights.Size(weights.Start(r), 1);
            if (run.device_type != TorchSharp.DeviceType.CPU || run.dtype != ScalarType.Float32 || unit > MaxUnitSize
                || unit * weights.Count(r) > int.MaxValue / sizeof(float))
                return false;
        }

        return true;
    }

    /// <summary>What <see cref="Run"/> gives: the tensors the bucket keeps (the Ritz basis, v1 as its first column,
    /// u1 per run), and σ1, σ2, the residual and whether v1 is finite per unit, on the host.</summary>
    public sealed record Result(Tensor Basis, Tensor V, IReadOnlyList<Tensor> U, float[] Sigma1, float[] Sigma2, float[] Residual, bool[] VectorFinite)
    {
        /// <summary>As <see cref="SubspaceIteration.Ritz"/> (three more tensors), for the bucket's device columns.</summary>
        public SubspaceIteration.Ritz ToRitz() => new(Basis, V, tensor(Sigma1), tensor(Sigma2), tensor(Residual), U);
    }

    /// <summary>‖W‖_F of every unit in float64 (not finite when an entry is not), read where the weights are.</summary>
    /// <param name="weights">The (L, m_r, n) float32 weights in runs, on the CPU.</param>
    public static double[] Frobenius(WeightRuns weights)
    {
        var norms = new double[weights.Units];
        for (int r = 0; r < weights.Runs.Count; r++)
        {
            var run = weights.Runs[r];
            var w = HostMemory.Span<float>(run.is_contiguous() ? run : run.contiguous());
            int size = (int)weights.Size(weights.Start(r), 1);
            for (long i = 0; i < weights.Count(r); i++)
                norms[weights.Start(r) + i] = Math.Sqrt(RowKernels.Squares(w.Slice((int)(i * size), size)));
        }

        return norms;
    }

    /// <summary>Runs <paramref name="iterations"/>[u] steps of Q ← orth(WᵀW Q) on each unit u, then its
    /// Rayleigh–Ritz step: what <see cref="SubspaceIteration.Iterate(WeightRuns, Tensor, int[])"/> followed by
    /// <see cref="SubspaceIteration.RayleighRitz(WeightRuns, Tensor, Tensor?, Tensor?, bool)"/> give: new CPU tensors
    /// and host values (<see cref="Result"/>).</summary>
    /// <param name="weights">The (L, m_r, n) float32 weights in runs, on the CPU.</param>
    /// <param name="basis">(L, n, k) float32 start basis (only read).</param>
    /// <param name="iterations">Steps per unit (L values, each ≥ 0).</param>
    /// <param name="reference">(L, n) the previous v1 of each unit, or <c>null</c> when no unit has one.</param>
    /// <param name="hasReference">Per unit whether it has a previous v1; <c>null</c> when all do (or none).</param>
    public static Result Run(WeightRuns weights, Tensor basis, int[] iterations, Tensor? reference, bool[]? hasReference)
    {
        long units = weights.Units;
        int n = (int)basis.shape[1], k = (int)basis.shape[2];
        var start = HostMemory.Span<float>(basis.is_contiguous() ? basis : basis.contiguous());
        var previous = reference is null ? default : HostMemory.Span<float>(reference.is_contiguous() ? reference : reference.contiguous());
        var ritzBasis = new float[units * n * k];
        var sigma1 = new float[units];
        var sigma2 = new float[units];
        var residual = new float[units];
        var finite = new bool[units];
        var left = new Tensor[weights.Runs.Count];
        var work = new Workspace(n, k, MaxRows(weights));
        for (int r = 0; r < weights.Runs.Count; r++)
        {
            var run = weights.Runs[r];
            var w = HostMemory.Span<float>(run.is_contiguous() ? run : run.contiguous());
            int m = (int)run.shape[1];
            long first = weights.Start(r), count = weights.Count(r);
            var u = new float[count * m];
            for (long i = 0; i < count; i++)
            {
                long unit = first + i;
                var weight = w.Slice((int)(i * m * n), m * n);
                work.Load(start.Slice((int)(unit * n * k), n * k));
                for (int step = 0; step < iterations[unit]; step++)
                    work.Step(weight, m);
                bool warm = reference is not null && (hasReference is null || hasReference[unit]);
                var result = work.RayleighRitz(weight, m, warm ? previous.Slice((int)(unit * n), n) : default, ritzBasis.AsSpan((int)(unit * n * k), n * k), u.AsSpan((int)(i * m), m));
                (sigma1[unit], sigma2[unit], residual[unit]) = result;
                finite[unit] = IsFinite(ritzBasis.AsSpan((int)(unit * n * k), n * k), k);
            }

            left[r] = tensor(u, [count, m]);
        }

        var ritz = tensor(ritzBasis, [units, n, k]);
        return new Result(ritz, ritz.select(2, 0), left, sigma1, sigma2, residual, finite);
    }

    /// <summary>Whether the first column of a row-major (n, k) basis (v1) is finite.</summary>
    private static bool IsFinite(ReadOnlySpan<float> basis, int k)
    {
        for (int i = 0; i < basis.Length; i += k)
        {
            if (!float.IsFinite(basis[i]))
                return false;
        }

        return true;
    }

    private static int MaxRows(WeightRuns weights)
    {
        long most = 0;
        for (int r = 0; r < weights.Runs.Count; r++)
            most = Math.Max(most, weights.Runs[r].shape[1]);
        return (int)most;
    }

    /// <summary>One unit's arrays, reused from unit to unit. Matrices are kept by columns (each column of Q, W Q and
    /// WᵀW Q is one contiguous span), k padded with zero columns to a multiple of <see cref="MatrixKernels.Width"/>:
    /// the products in float32 (<see cref="MatrixKernels"/>), the QR, the Gram matrix and what follows in float64.</summary>
    private sealed class Workspace(int n, int k, int maxRows)
    {
        private static int Padded(int k) => (k + MatrixKernels.Width - 1) / MatrixKernels.Width * MatrixKernels.Width;

        private readonly float[] _q = new float[Padded(k) * n];          // Q by columns (zero beyond column k)
        private readonly float[] _product = new float[Padded(k) * n];    // WᵀW Q by columns
        private readonly float[] _y = new float[Padded(k) * maxRows];    // W Q by columns
        private readonly double[] _z = new double[k * n];                // WᵀW Q for the QR, then its reflectors
        private readonly double[] _basis = new double[k * n];            // the orthonormal Q in float64
        private readonly double[] _tau = new double[k];
        private readonly double[] _gram = new double[k * k];
        private readonly double[] _values = new double[k];
        private readonly double[] _vectors = new double[k * k];
        private readonly double[] _v = new double[n];
        private readonly double[] _u = new double[maxRows];
        private readonly double[] _wide = new double[k * maxRows];      // W Q by columns in float64

        /// <summary>Q from the (n, k) row-major float32 basis.</summary>
        public void Load(ReadOnlySpan<float> basis)
        {
            for (int i = 0; i < n; i++)
            {
                for (int c = 0; c < k; c++)
                    _q[(c * n) + i] = basis[(i * k) + c];
            }
        }

        /// <summary>Q ← orth(WᵀW Q).</summary>
        public void Step(ReadOnlySpan<float> w, int m)
        {
            int padded = Padded(k);
            MatrixKernels.Times(w, m, n, _q, padded, _y);
            MatrixKernels.TransposeTimes(w, m, n, _y, padded, _product);
            for (int j = 0; j < k * n; j++)
                _z[j] = _product[j];
            HouseholderQr();
            for (int j = 0; j < k * n; j++)
                _q[j] = (float)_basis[j];
        }

        /// <summary>The Ritz pairs of WᵀW in span(Q): writes the (n, k) row-major Ritz basis (descending, v1 first with
        /// its sign fixed) and u1 = W v1 / σ1; returns σ1, σ2 and ‖Wᵀu1 − σ1 v1‖ / σ1 (0 when σ1 = 0).</summary>
        public (float Sigma1, float Sigma2, float Residual) RayleighRitz(ReadOnlySpan<float> w, int m, ReadOnlySpan<float> reference, Span<float> basis, Span<float> u)
        {
            MatrixKernels.Times(w, m, n, _q, Padded(k), _y);
            var y = _wide.AsSpan(0, k * m);   // W Q in float64, by columns
            for (int j = 0; j < y.Length; j++)
                y[j] = _y[j];
            for (int c = 0; c < k; c++)
            {
                for (int d = 0; d <= c; d++)
                    _gram[(c * k) + d] = RowKernels.Dot(y.Slice(c * m, m), y.Slice(d * m, m));
            }

            SymmetricEigen.Decompose<double>(_gram, k, _values, _vectors);   // values ascending, vectors descending

            // The Ritz vectors Q yc, v1 first with its sign as SubspaceIteration's (the previous v1, else the
            // largest-magnitude component positive); written row-major (n, k).
            var column = _v.AsSpan();
            double sign = 1;
            for (int c = 0; c < k; c++)
            {
                column.Clear();
                for (int d = 0; d < k; d++)
                    RowKernels.AddScaled(column, _q.AsSpan(d * n, n), _vectors[(d * k) + c]);
                if (c == 0)
                    sign = reference.IsEmpty ? ColdSign(column) : WarmSign(column, reference);
                double scale = c == 0 ? sign : 1;
                for (int i = 0; i < n; i++)
                    basis[(i * k) + c] = (float)(scale * column[i]);
            }

            // As float32 square roots of the clamped float32 values (SubspaceIteration's conversions).
            float top = MathF.Sqrt(Math.Max(0f, (float)_values[k - 1]));
            float second = k > 1 ? MathF.Sqrt(Math.Max(0f, (float)_values[k - 2])) : 0f;
            if (top == 0 || float.IsNaN(top))
            {
                u.Clear();
                return (top, second, float.IsNaN(top) ? float.NaN : 0f);
            }

            // u1 = W v1 / σ1 = (W Q) y · sign / σ1; residual ‖Wᵀu1 − σ1 v1‖ / σ1, with v1 as stored.
            var left = _u.AsSpan(0, m);
            left.Clear();
            for (int d = 0; d < k; d++)
            {
                double weight = _vectors[d * k] * sign / top;
                var yd = y.Slice(d * m, m);
                for (int a = 0; a < m; a++)
                    left[a] += weight * yd[a];
            }

            for (int a = 0; a < m; a++)
                u[a] = (float)left[a];
            for (int i = 0; i < n; i++)
                column[i] = -top * (double)basis[i * k];
            for (int a = 0; a < m; a++)
                RowKernels.AddScaled(column, w.Slice(a * n, n), left[a]);
            return (top, second, (float)(Math.Sqrt(RowKernels.Dot(column, column)) / top));
        }

        /// <summary>Q ← the orthonormal factor of the Householder QR of <c>_z</c> (n × k), with LAPACK's conventions
        /// (<c>dlarfg</c>: β = −sign(α)‖x‖, no reflection for a column already zero below the diagonal).</summary>
        private void HouseholderQr()
        {
            for (int j = 0; j < k; j++)
            {
                var x = _z.AsSpan((j * n) + j, n - j);
                double alpha = x[0], tail = 0;
                for (int i = 1; i < x.Length; i++)
                    tail += x[i] * x[i];
                if (tail == 0 || double.IsNaN(tail))
                {
                    _tau[j] = double.IsNaN(tail) ? double.NaN : 0;
                    continue;
                }

                double beta = -Math.CopySign(Math.Sqrt((alpha * alpha) + tail), alpha);
                _tau[j] = (beta - alpha) / beta;
                double scale = 1 / (alpha - beta);
                for (int i = 1; i < x.Length; i++)
                    x[i] *= scale;
                x[0] = beta;
                for (int c = j + 1; c < k; c++)
                    Reflect(x, _z.AsSpan((c * n) + j, n - j), _tau[j]);
            }

            Array.Clear(_basis);
            for (int c = 0; c < k; c++)
                _basis[(c * n) + c] = 1;
            for (int j = k - 1; j >= 0; j--)
            {
                var reflector = _z.AsSpan((j * n) + j, n - j);
                for (int c = j; c < k; c++)
                    Reflect(reflector, _basis.AsSpan((c * n) + j, n - j), _tau[j]);
            }
        }

        /// <summary>y ← (I − τ v vᵀ) y with v = (1, reflector[1..]).</summary>
        private static void Reflect(ReadOnlySpan<double> reflector, Span<double> y, double tau)
        {
            if (tau == 0)
                return;
            double dot = y[0];
            for (int i = 1; i < y.Length; i++)
                dot += reflector[i] * y[i];
            dot *= tau;
            y[0] -= dot;
            for (int i = 1; i < y.Length; i++)
                y[i] -= dot * reflector[i];
        }

        /// <summary>−1 where v disagrees with the previous v1 (negative dot product), else +1.</summary>
        private static double WarmSign(ReadOnlySpan<double> v, ReadOnlySpan<float> reference)
        {
            double dot = 0;
            for (int i = 0; i < v.Length; i++)
                dot += v[i] * reference[i];
            return dot < 0 ? -1 : 1;
        }

        /// <summary>−1 where v's largest-magnitude component (the first of equals) is negative, else +1.</summary>
        /// <remarks>Judged on the values rounded to float32, as they are stored (and as the device path judges them):
        /// components tied in float32 differ in float64 only by rounding noise, which must not pick the
        /// sign.</remarks>
        private static double ColdSign(ReadOnlySpan<double> v)
        {
            int largest = 0;
            for (int i = 1; i < v.Length; i++)
            {
                if (Math.Abs((float)v[i]) > Math.Abs((float)v[largest]))
                    largest = i;
            }

            return (float)v[largest] < 0 ? -1 : 1;
        }
    }
}
