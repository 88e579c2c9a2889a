using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace SpectralAlign.Spectral;

/// <summary>
/// The two products of <see cref="HostIteration"/>: a row-major float32 weight W (m × n) times k vectors, Y = W Q, and
/// its transpose times k vectors, Z = Wᵀ Y, in float32 with fused multiply–adds as a BLAS <c>sgemm</c> computes them.
/// Four vectors per pass over W (k is padded to a multiple of <see cref="Width"/> with zero vectors by the caller), eight
/// float32 lanes per step where <see cref="Vector256"/> is accelerated, scalar loops for the rest and elsewhere.
/// </summary>
internal static class MatrixKernels
{
    /// <summary>Vectors per pass over W: k must be a multiple of it.</summary>
    public const int Width = 4;

    /// <summary>y[c·m + a] = W[a, :] · q[c·n ..] for every row a and vector c (Y = W Q, stored by columns).</summary>
    /// <param name="w">m · n weights, row-major.</param>
    /// <param name="m">Rows of W.</param>
    /// <param name="n">Columns of W.</param>
    /// <param name="q">k · n: the vectors, one after the other.</param>
    /// <param name="k">Vectors, a multiple of <see cref="Width"/>.</param>
    /// <param name="y">k · m: per vector, its product with every row.</param>
    public static void Times(ReadOnlySpan<float> w, int m, int n, ReadOnlySpan<float> q, int k, Span<float> y)
    {
        if (w.Length < m * n || q.Length < k * n || y.Length < k * m || k % Width != 0)
            throw new ArgumentException("The spans do not hold the shapes given.");
        ref float weights = ref MemoryMarshal.GetReference(w);
        ref float vectors = ref MemoryMarshal.GetReference(q);
        int vectorEnd = Vector256.IsHardwareAccelerated ? n - (n % Vector256<float>.Count) : 0;
        for (int c = 0; c < k; c += Width)
        {
            ref float q0 = ref Unsafe.Add(ref vectors, c * n);
            ref float q1 = ref Unsafe.Add(ref q0, n);
            ref float q2 = ref Unsafe.Add(ref q1, n);
            ref float q3 = ref Unsafe.Add(ref q2, n);
            for (int a = 0; a < m; a++)
            {
                ref float row = ref Unsafe.Add(ref weights, a * n);
                Vector256<float> s0 = default, s1 = default, s2 = default, s3 = default;
                int i = 0;
                for (; i < vectorEnd; i += Vector256<float>.Count)
                {
                    var x = Vector256.LoadUnsafe(ref row, (nuint)i);
                    s0 = Vector256.FusedMultiplyAdd(x, Vector256.LoadUnsafe(ref q0, (nuint)i), s0);
                    s1 = Vector256.FusedMultiplyAdd(x, Vector256.LoadUnsafe(ref q1, (nuint)i), s1);
                    s2 = Vector256.FusedMultiplyAdd(x, Vector256.LoadUnsafe(ref q2, (nuint)i), s2);
                    s3 = Vector256.FusedMultiplyAdd(x, Vector256.LoadUnsafe(ref q3, (nuint)i), s3);
                }

                float t0 = Vector256.Sum(s0), t1 = Vector256.Sum(s1), t2 = Vector256.Sum(s2), t3 = Vector256.Sum(s3);
                for (; i < n; i++)
                {
                    float x = Unsafe.Add(ref row, i);
                    t0 = MathF.FusedMultiplyAdd(x, Unsafe.Add(ref q0, i), t0);
                    t1 = MathF.FusedMultiplyAdd(x, Unsafe.Add(ref q1, i), t1);
                    t2 = MathF.FusedMultiplyAdd(x, Unsafe.Add(ref q2, i), t2);
                    t3 = MathF.FusedMultiplyAdd(x, Unsafe.Add(ref q3, i), t3);
                }

                y[(c * m) + a] = t0;
                y[((c + 1) * m) + a] = t1;
                y[((c + 2) * m) + a] = t2;
                y[((c + 3) * m) + a] = t3;
            }
        }
    }

    /// <summary>z[c·n + i] = Σ_a W[a, i] · y[c·m + a] for every column i and vector c (Z = Wᵀ Y, stored by
    /// columns).</summary>
    /// <param name="w">m · n weights, row-major.</param>
    /// <param name="m">Rows of W.</param>
    /// <param name="n">Columns of W.</param>
    /// <param name="y">k · m: the vectors, one after the other (what <see cref="Times"/> writes).</param>
    /// <param name="k">Vectors, a multiple of <see cref="Width"/>.</param>
    /// <param name="z">k · n: per vector, its product with every column of W.</param>
    public static void TransposeTimes(ReadOnlySpan<float> w, int m, int n, ReadOnlySpan<float> y, int k, Span<float> z)
    {
        if (w.Length < m * n || y.Length < k * m || z.Length < k * n || k % Width != 0)
            throw new ArgumentException("The spans do not hold the shapes given.");
        ref float weights = ref MemoryMarshal.GetReference(w);
        ref float vectors = ref MemoryMarshal.GetReference(y);
        ref float result = ref MemoryMarshal.GetReference(z);
        int vectorEnd = Vector256.IsHardwareAccelerated ? n - (n % Vector256<float>.Count) : 0;
        for (int c = 0; c < k; c += Width)
        {
            ref float y0 = ref Unsafe.Add(ref vectors, c * m);
            ref float y1 = ref Unsafe.Add(ref y0, m);
            ref float y2 = ref Unsafe.Add(ref y1, m);
            ref float y3 = ref Unsafe.Add(ref y2, m);
            ref float z0 = ref Unsafe.Add(ref result, c * n);
            ref float z1 = ref Unsafe.Add(ref z0, n);
            ref float z2 = ref Unsafe.Add(ref z1, n);
            ref float z3 = ref Unsafe.Add(ref z2, n);
            int i = 0;
            for (; i < vectorEnd; i += Vector256<float>.Count)
            {
                Vector256<float> s0 = default, s1 = default, s2 = default, s3 = default;
                for (int a = 0; a < m; a++)
                {
                    var x = Vector256.LoadUnsafe(ref weights, (nuint)((a * n) + i));
                    s0 = Vector256.FusedMultiplyAdd(x, Vector256.Create(Unsafe.Add(ref y0, a)), s0);
                    s1 = Vector256.FusedMultiplyAdd(x, Vector256.Create(Unsafe.Add(ref y1, a)), s1);
                    s2 = Vector256.FusedMultiplyAdd(x, Vector256.Create(Unsafe.Add(ref y2, a)), s2);
                    s3 = Vector256.FusedMultiplyAdd(x, Vector256.Create(Unsafe.Add(ref y3, a)), s3);
                }

                s0.StoreUnsafe(ref z0, (nuint)i);
                s1.StoreUnsafe(ref z1, (nuint)i);
                s2.StoreUnsafe(ref z2, (nuint)i);
                s3.StoreUnsafe(ref z3, (nuint)i);
            }

            for (; i < n; i++)
            {
                float t0 = 0, t1 = 0, t2 = 0, t3 = 0;
                for (int a = 0; a < m; a++)
                {
                    float x = Unsafe.Add(ref weights, (a * n) + i);
                    t0 = MathF.FusedMultiplyAdd(x, Unsafe.Add(ref y0, a), t0);
                    t1 = MathF.FusedMultiplyAdd(x, Unsafe.Add(ref y1, a), t1);
                    t2 = MathF.FusedMultiplyAdd(x, Unsafe.Add(ref y2, a), t2);
                    t3 = MathF.FusedMultiplyAdd(x, Unsafe.Add(ref y3, a), t3);
                }

                Unsafe.Add(ref z0, i) = t0;
                Unsafe.Add(ref z1, i) = t1;
                Unsafe.Add(ref z2, i) = t2;
                Unsafe.Add(ref z3, i) = t3;
            }
        }
    }
}
