using static TorchSharp.torch;

namespace SpectralAlign.Spectral;

/// <summary>
/// A bucket's weights as runs of consecutive units with the same m, one unpadded (units, m_r, n) float32 tensor per
/// run. The products with W, the only operations whose cost grows with m, run once per run (with the narrow k-row
/// factor on the left, see <see cref="Times"/>); what they produce (size k or n) is batched over the whole bucket
/// again. So layers of different output widths share one stack without multiplying zero padding: e.g. a transformer's
/// q/k/v/o (64 × 64) next to its FFN gate/up (176 × 64).
/// </summary>
internal sealed class WeightRuns
{
    private readonly long[] _starts;
    private readonly long[] _counts;
    private readonly long[] _unitSizes;      // per run m_r · n
    private readonly Tensor[] _transposed;   // per run Wᵀ (units_r, n, m_r), views made with the runs

    /// <param name="runs">(units_r, m_r, n) tensors with the same n, in unit order.</param>
    public WeightRuns(params Tensor[] runs)
        : this(runs, [.. runs.Select(run => run.transpose(1, 2))], [.. runs.Select(run => run.shape)])   // shapes read once: each read is a native call
    {
    }

    private WeightRuns(Tensor[] runs, Tensor[] transposed, long[][] shapes)
        : this(runs, transposed, [.. shapes.Select(shape => shape[0])], [.. shapes.Select(shape => shape[1] * shape[2])])
    {
    }

    private WeightRuns(Tensor[] runs, Tensor[] transposed, long[] counts, long[] unitSizes)
    {
        Runs = runs;
        _transposed = transposed;
        _counts = counts;
        _unitSizes = unitSizes;
        _starts = new long[runs.Length];
        for (int r = 1; r < runs.Length; r++)
            _starts[r] = _starts[r - 1] + _counts[r - 1];
        Units = _starts[^1] + _counts[^1];
    }

    public IReadOnlyList<Tensor> Runs { get; }

    /// <summary>Units over all runs (L).</summary>
    public long Units { get; }

    /// <summary>First unit of run <paramref name="run"/>.</summary>
    public long Start(int run) => _starts[run];

    /// <summary>Units of run <paramref name="run"/>.</summary>
    public long Count(int run) => _counts[run];

    /// <summary>Stacks (G, m_j, n) weights into runs of consecutive members with the same m and dtype, in float32 on
    /// <paramref name="device"/>. A run of one float32 weight already on the device is that weight itself (a view:
    /// the caller only reads it).</summary>
    /// <param name="weights">Per member its weight.</param>
    /// <param name="outFeatures">Per member its m.</param>
    /// <param name="device">The bucket's device.</param>
    /// <param name="runOf">Per member, the index of its run.</param>
    public static WeightRuns Stack(IReadOnlyList<Tensor> weights, int[] outFeatures, Device device, out int[] runOf)
    {
        runOf = new int[weights.Count];
        var runs = new List<Tensor>();
        for (int start = 0; start < weights.Count;)
        {
            var first = weights[start];
            int end = start + 1;
            while (end < weights.Count && outFeatures[end] == outFeatures[start] && weights[end].dtype == first.dtype)
                end++;
            var run = end - start == 1 ? first : stack(Enumerable.Range(start, end - start).Select(i => weights[i]).ToList(), 0).flatten(0, 1);
            if (run.device_type != device.type || run.device_index != device.index)
                run = run.to(device);
            if (run.dtype != ScalarType.Float32)
                run = run.to(ScalarType.Float32);
            Array.Fill(runOf, runs.Count, start, end - start);
            runs.Add(run);
            start = end;
        }

        return new WeightRuns([.. runs]);
    }

    /// <summary>Applies <paramref name="map"/> (run tensor, its first unit) to every run.</summary>
    public WeightRuns Select(Func<Tensor, long, long, Tensor> map) => new([.. Runs.Select((run, r) => map(run, _starts[r], _counts[r]))]);

    /// <summary>Units [<paramref name="start"/>, + <paramref name="count"/>) (narrow views).</summary>
    public WeightRuns Narrow(long start, long count)
    {
        var parts = new List<Tensor>();
        var transposed = new List<Tensor>();
        var counts = new List<long>();
        var unitSizes = new List<long>();
        for (int r = 0; r < Runs.Count; r++)
        {
            long from = Math.Max(start, _starts[r]), to = Math.Min(start + count, _starts[r] + _counts[r]);
            if (from < to)
            {
                parts.Add(Runs[r].narrow(0, from - _starts[r], to - from));
                transposed.Add(_transposed[r].narrow(0, from - _starts[r], to - from));   // no transpose call per part
                counts.Add(to - from);
                unitSizes.Add(_unitSizes[r]);
            }
        }

        return new WeightRuns([.. parts], [.. transposed], [.. counts], [.. unitSizes]);
    }

    /// <summary>Σ m·n over units [<paramref name="start"/>, + <paramref name="count"/>): the multiply-adds of one
    /// product of those weights with one vector.</summary>
    public long Size(long start, long count)
    {
        long size = 0;
        for (int r = 0; r < Runs.Count; r++)
        {
            long from = Math.Max(start, _starts[r]), to = Math.Min(start + count, _starts[r] + _counts[r]);
            if (from < to)
                size += (to - from) * _unitSizes[r];
        }

        return size;
    }

    /// <summary>Concatenates per-run results along dimension 0 (no copy for a single run).</summary>
    public static Tensor Cat(IEnumerable<Tensor> perRun)
    {
        var parts = perRun.ToList();
        return parts.Count == 1 ? parts[0] : cat(parts, 0);
    }

    /// <summary>Units of run <paramref name="run"/> in an (L, …) tensor (no copy for a single run).</summary>
    public Tensor Part(Tensor t, int run) => Runs.Count == 1 ? t : t.narrow(0, _starts[run], _counts[run]);

    /// <summary>Every run's units of an (L, …) tensor (views; one call for all runs).</summary>
    public Tensor[] Parts(Tensor t) => Runs.Count == 1 ? [t] : t.split(_counts);

    /// <summary>W·Q returned transposed, per run (units_r, k, m_r) = (W Q)ᵀ = Qᵀ Wᵀ: the CPU BLAS measured here is
    /// several times slower on a batched product with a narrow right factor (k columns) than on the same product with
    /// the narrow factor on the left (the operation-cost table of the benchmark shows the effect).</summary>
    /// <param name="q">(L, n, k).</param>
    public List<Tensor> Times(Tensor q)
    {
        var qT = Parts(q.transpose(1, 2));   // BLAS reads the transposed view as it is (no copy)
        var wT = _transposed;
        var products = new List<Tensor>(qT.Length);
        for (int r = 0; r < qT.Length; r++)
            products.Add(bmm(qT[r], wT[r]));
        return products;
    }

    /// <summary>Per run (units_r, rows, m_r) = A Wᵀ for one (rows, n) matrix A shared by all units: libtorch folds
    /// the broadcast product into one matrix product over the run's stacked rows (no expanded copy of A).</summary>
    /// <param name="left">(rows, n), e.g. Ωᵀ of the update sketch.</param>
    public List<Tensor> SharedTimes(Tensor left) => [.. _transposed.Select(wT => matmul(left, wT))];

    /// <summary>Wᵀ·Y computed as (Yᵀ·W)ᵀ from Yᵀ per run: the CPU BLAS measured here multiplies a row-major W from
    /// the left about twice as fast as its transpose.</summary>
    /// <param name="yTransposed">Per run (units_r, k, m_r) = Yᵀ, e.g. from <see cref="Times"/>.</param>
    /// <returns>(L, n, k), a transposed view.</returns>
    public Tensor TransposeTimes(IReadOnlyList<Tensor> yTransposed) =>
        Cat(Runs.Select((w, r) => bmm(yTransposed[r], w))).transpose(1, 2);
}
