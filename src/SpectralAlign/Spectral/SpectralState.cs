using static TorchSharp.torch;

namespace SpectralAlign.Spectral;

/// <summary>
/// What the monitor remembers about one layer's spectrum between measurements: the orthonormal basis (in × k,
/// float32, on the weight's device) whose first column is the last v1, used to warm-start the next measurement and
/// to keep v1's sign consistent.
/// </summary>
internal sealed class SpectralState : IDisposable
{
    /// <summary>The warm-start basis, or <c>null</c> before the first measurement (cold start).</summary>
    public Tensor? Basis { get; private set; }

    /// <summary>Iterations to start the next measurement with (raised after a measurement needed more).</summary>
    public int IterationHint { get; set; }

    /// <summary>‖W‖_F at the last measurement, NaN when unknown or not finite: decides whether the next measurement
    /// may skip rescaling the weight (saved with the state, so a resumed run takes the same path).</summary>
    public double LastFrobenius { get; set; } = double.NaN;

    /// <summary>σ1 of the last measurement that defined v1 (NaN before the first).</summary>
    public double Sigma1 { get; private set; } = double.NaN;

    /// <summary>Keeps a new basis (owned from now on) and the σ1 measured with it.</summary>
    public void Replace(Tensor basis, double sigma1 = double.NaN)
    {
        Basis?.Dispose();
        Basis = basis;
        Sigma1 = sigma1;
    }

    public void Dispose()
    {
        Basis?.Dispose();
        Basis = null;
    }
}
