using static TorchSharp.torch;

namespace SpectralAlign.Spectral;

/// <summary>
/// What the engine remembers about one layer between measurements, on the weight's device: the orthonormal basis
/// whose first column is the last v1 (warm start, sign convention), σ1 and u1 of that measurement (what a rank-1
/// spectral correction W − c·σ1·u1·v1ᵀ needs), and the update sketch (<see cref="UpdateSketch"/>). Owned by the
/// caller's registry. The engine keeps its tensors as <see cref="StateSlice"/>s of its buckets' tensors (shared by
/// the bucket's layers, never written to), so reading <see cref="Basis"/> or <see cref="LeftVector"/> makes a view on
/// first use.
/// </summary>
internal sealed class SpectralState : IDisposable
{
    private StateSlice? _basis;
    private StateSlice? _leftVector;
    private StateSlice? _sketch;

    /// <summary>The warm-start basis (G, n, k) float32 (its column 0 is v1 of each group), or <c>null</c> before the
    /// first measurement (cold start).</summary>
    public Tensor? Basis => _basis?.Tensor;

    /// <summary>σ1 of the last measurement that defined v1 (the largest over groups; NaN before the first or after
    /// a restored state).</summary>
    public double Sigma1 { get; private set; } = double.NaN;

    /// <summary>u1 = W v1 / σ1 of each group, (G, m) float32, from the same measurement as <see cref="Basis"/>
    /// (unit length, the sign matching v1's); <c>null</c> when unknown.</summary>
    public Tensor? LeftVector => _leftVector?.Tensor;

    /// <summary>Iterations to start the next measurement with (raised after a measurement needed more).</summary>
    public int IterationHint { get; set; }

    /// <summary>‖W‖_F at the last measurement, NaN when unknown or not finite: decides whether the next measurement
    /// may skip rescaling the weight (saved with the state, so a resumed run takes the same path).</summary>
    public double LastFrobenius { get; set; } = double.NaN;

    /// <summary>Ω of the update sketch, (n, r) float32 (see <see cref="UpdateSketch"/>).</summary>
    internal Tensor? Projection { get; set; }

    /// <summary>(WΩ)ᵀ at the last measurement, (G, r, m) float64, or <c>null</c> (no previous measurement, or a
    /// non-finite weight).</summary>
    internal Tensor? Sketch => _sketch?.Tensor;

    /// <summary>A new handle of <see cref="Basis"/> in the caller's dispose scope (nothing stays behind in the state), or
    /// <c>null</c>.</summary>
    public Tensor? BasisView() => _basis?.View();

    /// <summary>The basis as the engine kept it (to recognise a slice of its own previous bucket).</summary>
    internal StateSlice? BasisSlice => _basis;

    /// <summary>The sketch as the engine kept it.</summary>
    internal StateSlice? SketchSlice => _sketch;

    /// <summary>Keeps a new basis (owned from now on); σ1 and u1 become unknown.</summary>
    public void Replace(Tensor basis) => Replace(basis, double.NaN, null);

    /// <summary>Keeps a new basis, σ1 and u1 from one measurement (the tensors are owned from now on).</summary>
    public void Replace(Tensor basis, double sigma1, Tensor? leftVector) =>
        Replace(new StateSlice(basis), sigma1, leftVector is null ? null : new StateSlice(leftVector));

    /// <summary>Keeps a new basis, σ1 and u1 from one measurement (the slices are owned from now on).</summary>
    internal void Replace(StateSlice? basis, double sigma1, StateSlice? leftVector)
    {
        _basis?.Dispose();
        _leftVector?.Dispose();
        _basis = basis;
        Sigma1 = sigma1;
        _leftVector = leftVector;
    }

    /// <summary>Keeps the sketch of this measurement (owned from now on), or forgets it.</summary>
    internal void ReplaceSketch(Tensor? sketch) => ReplaceSketch(sketch is null ? null : new StateSlice(sketch));

    /// <summary>Keeps the sketch of this measurement (owned from now on), or forgets it.</summary>
    internal void ReplaceSketch(StateSlice? sketch)
    {
        _sketch?.Dispose();
        _sketch = sketch;
    }

    public void Dispose()
    {
        Replace((StateSlice?)null, double.NaN, null);
        ReplaceSketch((StateSlice?)null);
        Projection?.Dispose();
        Projection = null;
    }
}
