using System.Numerics;

namespace SpectralAlign.Spectral;

/// <summary>
/// Eigenvalues and eigenvectors of small symmetric matrices on the host, by cyclic Jacobi rotations in float64 — for
/// the k × k Rayleigh–Ritz problems of a bucket on the CPU (k = <see cref="EngineSettings.SubspaceDimension"/>, 4 by
/// default), where one batched <c>linalg.eigh</c> with its conversions costs more than the arithmetic. Jacobi is
/// accurate to a few units of rounding relative to the matrix's norm (and to high relative accuracy for its
/// eigenvalues), always converges, and is deterministic.
/// </summary>
internal static class SymmetricEigen
{
    private const int MaxSweeps = 50;

    /// <summary>Decomposes each row-major k × k matrix of <paramref name="matrices"/>,
    /// reading only its lower triangle (as LAPACK's eigh does) with NaN and ±∞ read as 0.</summary>
    /// <param name="matrices">count · k · k values.</param>
    /// <param name="k">The order.</param>
    /// <param name="values">count · k eigenvalues, ascending per matrix.</param>
    /// <param name="vectors">count · k · k values: per matrix, row-major, column j the eigenvector of
    /// <paramref name="values"/>[j] in DESCENDING order of the eigenvalues (column 0 belongs to the largest).</param>
    public static void Decompose<T>(ReadOnlySpan<T> matrices, int k, Span<double> values, Span<double> vectors)
        where T : unmanaged, INumberBase<T>
    {
        int count = matrices.Length / (k * k);
        var a = new double[k * k];
        var v = new double[k * k];
        var order = new int[k];
        var eigen = new double[k];
        for (int m = 0; m < count; m++)
        {
            var source = matrices.Slice(m * k * k, k * k);
            for (int i = 0; i < k; i++)
            {
                for (int j = 0; j <= i; j++)
                {
                    double x = double.CreateTruncating(source[(i * k) + j]);
                    a[(i * k) + j] = a[(j * k) + i] = double.IsFinite(x) ? x : 0;
                }
            }

            Jacobi(a, v, k);
            for (int i = 0; i < k; i++)
            {
                eigen[i] = a[(i * k) + i];
                order[i] = i;
            }

            // Ascending by value; equal values keep their index order (insertion sort, stable).
            for (int i = 1; i < k; i++)
            {
                for (int j = i; j > 0 && eigen[j] < eigen[j - 1]; j--)
                {
                    (eigen[j], eigen[j - 1]) = (eigen[j - 1], eigen[j]);
                    (order[j], order[j - 1]) = (order[j - 1], order[j]);
                }
            }

            for (int i = 0; i < k; i++)
            {
                values[(m * k) + i] = eigen[i];
                int column = order[k - 1 - i];   // descending
                for (int row = 0; row < k; row++)
                    vectors[(m * k * k) + (row * k) + i] = v[(row * k) + column];
            }
        }
    }

    /// <summary>Diagonalises the symmetric <paramref name="a"/> in place (its diagonal ends up holding the
    /// eigenvalues) and writes the accumulated rotations into <paramref name="v"/> (columns: eigenvectors).</summary>
    private static void Jacobi(double[] a, double[] v, int k)
    {
        Array.Clear(v);
        for (int i = 0; i < k; i++)
            v[(i * k) + i] = 1;
        for (int sweep = 0; sweep < MaxSweeps; sweep++)
        {
            double off = 0, total = 0;
            for (int i = 0; i < k; i++)
            {
                for (int j = 0; j < k; j++)
                {
                    double x = a[(i * k) + j] * a[(i * k) + j];
                    total += x;
                    if (i != j)
                        off += x;
                }
            }

            if (off <= 1e-32 * total || off == 0)
                return;
            for (int p = 0; p < k - 1; p++)
            {
                for (int q = p + 1; q < k; q++)
                    Rotate(a, v, k, p, q);
            }
        }
    }

    /// <summary>One Jacobi rotation annihilating a[p, q] (Golub and Van Loan, Algorithm 8.5.1).</summary>
    private static void Rotate(double[] a, double[] v, int k, int p, int q)
    {
        double apq = a[(p * k) + q];
        if (apq == 0)
            return;
        double theta = (a[(q * k) + q] - a[(p * k) + p]) / (2 * apq);
        double t = Math.Sign(theta) == 0 ? 1 : Math.Sign(theta) / (Math.Abs(theta) + Math.Sqrt((theta * theta) + 1));
        if (double.IsInfinity(theta * theta))
            t = 1 / (2 * theta);   // θ² overflows: t ≈ 1/(2θ)
        double c = 1 / Math.Sqrt((t * t) + 1), s = t * c;
        for (int i = 0; i < k; i++)
        {
            double aip = a[(i * k) + p], aiq = a[(i * k) + q];
            a[(i * k) + p] = (c * aip) - (s * aiq);
            a[(i * k) + q] = (s * aip) + (c * aiq);
        }

        for (int j = 0; j < k; j++)
        {
            double apj = a[(p * k) + j], aqj = a[(q * k) + j];
            a[(p * k) + j] = (c * apj) - (s * aqj);
            a[(q * k) + j] = (s * apj) + (c * aqj);
        }

        for (int i = 0; i < k; i++)
        {
            double vip = v[(i * k) + p], viq = v[(i * k) + q];
            v[(i * k) + p] = (c * vip) - (s * viq);
            v[(i * k) + q] = (s * vip) + (c * viq);
        }
    }
}
