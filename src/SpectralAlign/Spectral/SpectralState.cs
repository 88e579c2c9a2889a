using static TorchSharp.torch;

namespace SpectralAlign.Spectral;

/// <summary>
/// What the engine remembers about one layer between measurements, on the weight's device: the orthonormal basis
/// whose first column is the last v1 (warm start, sign convention), σ1 and u1 of that measurement (what a rank-1
/// spectral correction W − c·σ1·u1·v1ᵀ needs), and the update sketch (<see cref="UpdateSketch"/>). Owned by the
/// caller's registry; the engine replaces its tensors, never shares them with another state.
/// </summary>
internal sealed class SpectralState : IDisposable
{
    /// <summary>The warm-start basis (G, n, k) float32 (its column 0 is v1 of each group), or <c>null</c> before the
    /// first measurement (cold start).</summary>
    public Tensor? Basis { get; private set; }

    /// <summary>σ1 of the last measurement that defined v1 (the largest over groups; NaN before the first or after
    /// a restored state).</summary>
    public double Sigma1 { get; private set; } = double.NaN;

    /// <summary>u1 = W v1 / σ1 of each group, (G, m) float32, from the same measurement as <see cref="Basis"/>
    /// (unit length, the sign matching v1's); <c>null</c> when unknown.</summary>
    public Tensor? LeftVector { get; private set; }

    /// <summary>Iterations to start the next measurement with (raised after a measurement needed more).</summary>
    public int IterationHint { get; set; }

    /// <summary>‖W‖_F at the last measurement, NaN when unknown or not finite: decides whether the next measurement
    /// may skip rescaling the weight (saved with the state, so a resumed run takes the same path).</summary>
    public double LastFrobenius { get; set; } = double.NaN;

    /// <summary>Ω of the update sketch, (n, r) float32 (see <see cref="UpdateSketch"/>).</summary>
    internal Tensor? Projection { get; set; }

    /// <summary>WΩ at the last measurement, (G, m, r) float64, or <c>null</c> (no previous measurement, or a
    /// non-finite weight).</summary>
    internal Tensor? Sketch { get; private set; }

    /// <summary>Keeps a new basis (owned from now on); σ1 and u1 become unknown.</summary>
    public void Replace(Tensor basis) => Replace(basis, double.NaN, null);

    /// <summary>Keeps a new basis, σ1 and u1 from one measurement (the tensors are owned from now on).</summary>
    public void Replace(Tensor basis, double sigma1, Tensor? leftVector)
    {
        Basis?.Dispose();
        LeftVector?.Dispose();
        Basis = basis;
        Sigma1 = sigma1;
        LeftVector = leftVector;
    }

    /// <summary>Keeps the sketch of this measurement (owned from now on), or forgets it.</summary>
    internal void ReplaceSketch(Tensor? sketch)
    {
        Sketch?.Dispose();
        Sketch = sketch;
    }

    public void Dispose()
    {
        Replace(null!, double.NaN, null);
        Basis = null;
        ReplaceSketch(null);
        Projection?.Dispose();
        Projection = null;
    }
}
