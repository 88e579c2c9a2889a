using SpectralAlign.Spectral;
using TorchSharp;
using static TorchSharp.torch;

namespace SpectralAlign.Guard.Remedies;

/// <summary>
/// MSign's matrix-sign step without an SVD: the polar factor P = U·Vᵀ of each group's W = U·Σ·Vᵀ by Newton–Schulz
/// iterations from X₀ = W/‖W‖_F — first up to <see cref="QuinticSteps"/> steps of the quintic polynomial
/// X ← aX + b(XXᵀ)X + c(XXᵀ)²X with Muon's coefficients (3.4445, −4.7750, 2.0315), which lift small singular values
/// quickly into about [0.7, 1.2], then the cubic X ← 1.5X − 0.5(XXᵀ)X, which converges every non-zero singular value
/// to 1 (stopping when ‖ΔX‖_F/‖X‖_F ≤ tolerance) — using the smaller of the two Gram matrices. The result is
/// W′ = (1 − λ)·W + λ·P·‖W‖_F/‖P‖_F, rescaled so that ‖W′‖_F = ‖W‖_F: with λ = 1 every non-zero singular value becomes
/// ‖W‖_F/√rank and the stable rank becomes the rank; the singular vectors never change.
/// </summary>
/// <param name="mix">λ in (0, 1].</param>
internal sealed class MatrixSignStep(double mix) : ISpectralRemedy
{
    /// <summary>Quintic steps before the cubic phase.</summary>
    public const int QuinticSteps = 5;

    // The polynomials' coefficients, kept alive across the native calls (see Scalars).
    private static readonly Scalar s_quinticA = 3.4445.ToScalar();
    private static readonly Scalar s_quinticB = (-4.7750).ToScalar();
    private static readonly Scalar s_quinticC = 2.0315.ToScalar();
    private static readonly Scalar s_cubicA = 1.5.ToScalar();

    public string Name => "MatrixSign";

    public RemedyProposal Propose(Tensor w, Tensor? warm, RemedySettings settings)
    {
        if (!(mix > 0 && mix <= 1))
            return RemedyProposal.Refuse($"the matrix-sign mix must be in (0, 1] (was {mix})");
        bool tall = w.shape[1] >= w.shape[2];
        var frobenius = linalg.matrix_norm(w, "fro", dims: [1, 2], keepdim: true);     // (G, 1, 1)
        var x = w / frobenius;
        double tolerance = settings.Tolerance(w.dtype);
        int iteration = 0;
        bool converged = false;
        while (iteration < settings.MaxIterations && !converged)
        {
            iteration++;
            var gram = tall ? bmm(x.transpose(1, 2), x) : bmm(x, x.transpose(1, 2));
            Tensor next;
            if (iteration <= QuinticSteps)
            {
                var poly = (gram * s_quinticB).add(bmm(gram, gram) * s_quinticC, Scalars.One);
                next = (x * s_quinticA).add(tall ? bmm(x, poly) : bmm(poly, x), Scalars.One);
            }
            else
            {
                next = x * s_cubicA - (tall ? bmm(x, gram) : bmm(gram, x)) * Scalars.Half;
                var change = linalg.matrix_norm(next - x, "fro", dims: [1, 2]) / linalg.matrix_norm(next, "fro", dims: [1, 2]);
                converged = DeviceTransfer.Number(change.max()) <= tolerance;
            }

            x = next;
        }

        if (!converged)
            return RemedyProposal.Refuse($"the Newton–Schulz iteration did not converge in {iteration} iterations", iteration);
        var polar = x * (frobenius / linalg.matrix_norm(x, "fro", dims: [1, 2], keepdim: true));
        using var keep = (1 - mix).ToScalar();
        using var lambda = mix.ToScalar();
        var mixed = mix == 1 ? polar : (w * keep).add(polar * lambda, Scalars.One);
        var result = mixed * (frobenius / linalg.matrix_norm(mixed, "fro", dims: [1, 2], keepdim: true));
        // σ₁ before is not known without more work (the guard reports the monitor's); after a full step (λ = 1) every
        // non-zero singular value is ‖W‖_F/‖P‖_F.
        double after = mix == 1 ? DeviceTransfer.Number((frobenius.flatten() / linalg.matrix_norm(x, "fro", dims: [1, 2])).max()) : double.NaN;
        return new RemedyProposal(result, null, double.NaN, after, iteration);
    }
}
