using SpectralAlign.Hooks;
using SpectralAlign.Telemetry;
using TorchSharp;
using static TorchSharp.torch;

namespace SpectralAlign.Spectral;

/// <summary>
/// The measurement of one step: groups the watched layers into padded buckets (see <see cref="Buckets"/>), runs the
/// stacked subspace iteration and the SA statistics on the device, and copies all results to the host in one
/// transfer per device.
/// A group keeps iterating (with further transfers) only while a residual is above the tolerance, which happens on
/// cold starts and after abrupt weight changes.
/// </summary>
internal sealed class SpectralEngine : IDisposable
{
    private readonly SpectralMonitorOptions _options;
    private long _hostReadbacks;

    public SpectralEngine(SpectralMonitorOptions options) => _options = options;

    /// <summary>When set, accumulates the time of each phase.</summary>
    public CostProfile? Profile { get; set; }

    /// <summary>Device-to-host result transfers so far (the hot path does exactly one per device per step).</summary>
    public long HostReadbacks => Interlocked.Read(ref _hostReadbacks);

    /// <summary>Measures every layer for <paramref name="step"/> and consumes their captured rows.</summary>
    /// <param name="step">The measured step.</param>
    /// <param name="layers">The layers, each with a current weight.</param>
    /// <param name="onCapture">Receives each layer's rows and weight before measurement (offline capture).</param>
    public LayerMeasurement[] Measure(long step, IReadOnlyList<WatchedLayer> layers, Action<CaptureRecord>? onCapture = null)
    {
        var captured = new (Tensor? Rows, long Seen)[layers.Count];
        try
        {
            for (int i = 0; i < layers.Count; i++)
                captured[i] = layers[i].Capture.Take();

            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            var weights = new Tensor?[layers.Count];
            for (int i = 0; i < layers.Count; i++)
                weights[i] = layers[i].View.CurrentWeight();

            if (onCapture is not null)
            {
                for (int i = 0; i < layers.Count; i++)
                {
                    onCapture(new CaptureRecord
                    {
                        Step = step,
                        Layer = layers[i].Name,
                        Groups = layers[i].View.Groups,
                        Rows = captured[i].Rows,
                        InputRows = captured[i].Seen,
                        Weight = weights[i]!.detach(),
                    });
                }
            }

            var profile = Profile;
            long start = profile is null ? 0 : CostProfile.Now;
            var groups = new List<Group>();
            foreach (var members in Buckets(layers, _options, weights))
                groups.Add(new Group(members, layers, weights, captured, _options));

            profile?.Add(CostProfile.Phase.Assembly, start);
            foreach (var group in groups)
                group.Compute(group.InitialIterations, profile);
            ReadBack(groups);

            // A weight that grew by many orders of magnitude since its last measurement can overflow the unscaled
            // products: measure that bucket again, rescaled (an extra transfer, only in that case).
            var rescaled = new List<Group>();
            for (int g = 0; g < groups.Count; g++)
            {
                if (!groups[g].Overflowed())
                    continue;
                groups[g] = new Group(groups[g].Members, layers, weights, captured, _options, allowUnscaled: false);
                groups[g].Compute(groups[g].InitialIterations, profile);
                rescaled.Add(groups[g]);
            }

            if (rescaled.Count > 0)
                ReadBack(rescaled);

            // Continue within the step only for cold starts and lost warm starts (abrupt weight changes); a warm layer
            // that is merely short of the tolerance gets more iterations next time instead of another synchronisation.
            while (true)
            {
                var pending = groups.Where(g => g.NeedsMoreIterations(_options)).ToList();
                if (pending.Count == 0)
                    break;
                foreach (var group in pending)
                    group.Compute(Math.Min(Math.Max(group.TotalIterations, 4), _options.MaxPowerIterations - group.TotalIterations), profile);
                ReadBack(pending);
            }

            start = profile is null ? 0 : CostProfile.Now;
            var measurements = new LayerMeasurement[layers.Count];
            foreach (var group in groups)
                group.Complete(step, layers, captured, _options, measurements);
            profile?.Add(CostProfile.Phase.Completion, start);
            return measurements;
        }
        finally
        {
            foreach (var (rows, _) in captured)
                rows?.Dispose();
        }
    }

    public void Dispose()
    {
    }

    /// <summary>Padded weight elements a bucket may always hold, whatever the waste: below this, per-operation
    /// overhead costs more than arithmetic on zeros.</summary>
    internal const long SmallBucketElements = 1L << 16;

    /// <summary>
    /// Splits the layers into buckets processed as one stack: layers that share (groups G, input width n, subspace
    /// dimension k, device) and whose weights, zero-padded to the bucket's largest m, cost at most twice their own
    /// elements (or fit in <see cref="SmallBucketElements"/>). Padding the output side leaves v1, σ, the residual
    /// and every cosine unchanged and does not touch the input rows (which share n), so e.g. a transformer's
    /// q/k/v/o, FFN gate/up and LM head, all reading d-wide inputs, cost the tensor operations of one layer.
    /// </summary>
    internal static List<int[]> Buckets(IReadOnlyList<WatchedLayer> layers, SpectralMonitorOptions options, IReadOnlyList<Tensor?>? weights = null)
    {
        var buckets = new List<int[]>();
        var classes = Enumerable.Range(0, layers.Count).GroupBy(i =>
        {
            var view = layers[i].View;
            var weight = weights is null ? view.CurrentWeight() : weights[i];
            return (view.Groups, view.InFeatures, K: Math.Min(options.SubspaceDimension, view.InFeatures),
                DeviceType: weight?.device_type ?? DeviceType.CPU, DeviceIndex: weight?.device_index ?? -1);
        });
        foreach (var cls in classes)
        {
            var shapes = cls.GroupBy(i => layers[i].View.OutFeatures).OrderBy(g => g.Key);
            var current = new List<int>();
            long actual = 0;
            foreach (var shape in shapes)
            {
                int count = shape.Count();
                long perLayer = (long)shape.Key * cls.Key.InFeatures * cls.Key.Groups;
                long padded = perLayer * (current.Count + count);   // shapes ascend in m, so this one sets the padding
                if (current.Count > 0 && padded > Math.Max(2 * (actual + (perLayer * count)), SmallBucketElements))
                {
                    buckets.Add([.. current]);
                    current.Clear();
                    actual = 0;
                }

                current.AddRange(shape);
                actual += perLayer * count;
            }

            if (current.Count > 0)
                buckets.Add([.. current]);
        }

        return buckets;
    }

    private void ReadBack(List<Group> groups)
    {
        var profile = Profile;
        long start = profile is null ? 0 : CostProfile.Now;
        foreach (var byDevice in groups.GroupBy(g => g.Device.ToString()))
        {
            var members = byDevice.ToList();
            using var host = (members.Count == 1 ? members[0].Results! : cat(members.Select(g => g.Results!).ToList(), 0)).cpu();
            double[] values = host.data<double>().ToArray();
            Interlocked.Increment(ref _hostReadbacks);

            int width = (int)host.shape[1];
            int offset = 0;
            foreach (var group in members)
            {
                group.HostResults = new ArraySegment<double>(values, offset, group.Size * width).ToArray();
                offset += group.Size * width;
            }
        }

        profile?.Add(CostProfile.Phase.Readback, start);
    }

    /// <summary>
    /// One bucket of <see cref="Buckets"/>: layers with the same groups, input width, subspace dimension and device,
    /// weights zero-padded to the largest m, processed as one stack of L·G units (one per layer and group).
    /// </summary>
    private sealed class Group
    {
        private readonly int[] _members;
        private readonly int _groups;
        private readonly int[] _outFeatures;
        private readonly int _n;               // the input width every layer of the bucket shares
        private readonly Tensor _weights;      // (L·G, m, n) float32, scaled so max |w| = 1 per unit unless in the safe range; read only
        private readonly Tensor _scale;        // (L·G) float64
        private readonly Tensor _frobenius;    // (L) float64
        private readonly Tensor _weightFinite; // (L) bool
        private readonly Tensor _reference;    // (L·G, n) previous v1 (zeros for cold layers)
        private readonly Tensor _hasReference; // (L·G) bool
        private readonly Tensor _rows;         // (L·G, M, n)
        private readonly Tensor _lengths;      // (L) int64
        private readonly bool[] _cold;
        private readonly int _bins;
        private readonly int _width;
        private Tensor _basis;                 // (L·G, n, k)
        private Tensor? _finalBasis;

        public Group(int[] members, IReadOnlyList<WatchedLayer> layers, Tensor?[] weights, (Tensor? Rows, long Seen)[] captured, SpectralMonitorOptions options, bool allowUnscaled = true)
        {
            _members = members;
            _bins = options.HistogramBins;
            _width = ResultColumns.Width(_bins);
            var view = layers[members[0]].View;
            _groups = view.Groups;
            int n = _n = view.InFeatures;
            int m = members.Max(i => layers[i].View.OutFeatures);
            int k = Math.Min(options.SubspaceDimension, n);
            int units = members.Length * _groups;
            var weightList = members.Select(i => weights[i]!).ToList();
            Device = weightList[0].device;
            _outFeatures = members.Select(i => layers[i].View.OutFeatures).ToArray();
            var outDims = _outFeatures.Select(o => (long)o).ToArray();

            // Weights: stacked in float32 (bf16/fp16 are cast) and zero-padded to the bucket's largest m. Float32
            // products of WᵀW stay exact enough as long as ‖W‖_F ≤ 1e12 and the entries are not tiny; when every layer's
            // previous measurement says so (and G = 1), the stack is used as it is (for a lone float32 weight, the
            // model's own tensor, only ever read). Otherwise each unit is divided by its largest magnitude, so that
            // neither huge nor tiny weights overflow or underflow. A non-finite unit keeps its NaN/∞: batched
            // products, QR and the float64 k × k eigenproblem keep them inside that unit, whose results are flagged.
            var stacked = StackPadded(weightList, j => (outDims[j], n), m, n, Device, fresh: false).reshape(units, m, n);
            bool safe = allowUnscaled && _groups == 1 && members.All(i => IsSafeScale(layers[i].Spectral.LastFrobenius, layers[i].View.OutFeatures, layers[i].View.InFeatures));
            Unscaled = safe;
            Tensor unitFinite;
            if (safe)
            {
                _weights = stacked;
                _scale = ones(units, dtype: ScalarType.Float64, device: Device);
                var unitFrobenius = linalg.vector_norm(_weights, 2, [1, 2], false).to(ScalarType.Float64);
                unitFinite = unitFrobenius.isfinite();
                _frobenius = unitFrobenius;
            }
            else
            {
                var absMax = stacked.amax([1, 2]).maximum(stacked.amin([1, 2]).neg());   // two reads, no |W| written
                unitFinite = absMax.isfinite();
                var scale = absMax.masked_fill(unitFinite.logical_not().logical_or(absMax.eq(0)), 1);
                _weights = stacked.div(scale.view(-1, 1, 1));                           // out of place: a copy
                _scale = scale.to(ScalarType.Float64);
                var unitFrobenius = linalg.vector_norm(_weights, 2, [1, 2], false).to(ScalarType.Float64) * _scale;
                _frobenius = unitFrobenius.square().view(-1, _groups).sum(1).sqrt();
            }

            _weightFinite = unitFinite.view(-1, _groups).all(1);

            // Warm start from each layer's previous basis; cold layers start from a random basis drawn from a private
            // generator seeded by (seed, layer name), never from torch's global one.
            _cold = new bool[members.Length];
            var bases = new List<Tensor>(members.Length);
            for (int j = 0; j < members.Length; j++)
            {
                var layer = layers[members[j]];
                if (layer.Spectral.Basis is { } b && b.shape is [var g, var width, var columns] && g == _groups && width == n && columns == k)
                {
                    bases.Add(b);
                    continue;
                }

                _cold[j] = true;
                using var generator = new Generator(RowSampler.Mix((ulong)(uint)options.Seed, RowSampler.Fnv1a(layer.Name), 0xC01D), CPU);
                bases.Add(randn([_groups, n, k], dtype: ScalarType.Float32, generator: generator));
            }

            _basis = StackPadded(bases, _ => (n, k), n, k, Device).reshape(units, n, k);
            var warm = tensor(_cold.Select(c => !c).ToArray(), device: Device);
            _hasReference = _groups == 1 ? warm : warm.repeat_interleave(_groups);
            _reference = _basis.select(2, 0).clone().masked_fill_(_hasReference.logical_not().unsqueeze(1), 0);

            InitialIterations = Math.Max(options.PowerIterations, members.Max(i => layers[i].Spectral.IterationHint));

            // Input rows, (G, N, n) per layer, padded to the longest capture of the bucket.
            var rows = members.Select(i => captured[i].Rows).ToArray();
            var rowCounts = rows.Select(r => r is null ? 0L : r.shape[1]).ToArray();
            long capacity = Math.Max(1, rowCounts.Max());
            _lengths = tensor(rowCounts, device: Device);
            var rowList = rows.Select(r => r ?? zeros([_groups, capacity, n], dtype: ScalarType.Float32)).ToList();
            _rows = StackPadded(rowList, j => (rows[j] is null ? capacity : rowCounts[j], n), capacity, n, Device).reshape(units, capacity, n);
        }

        /// <summary>Whether the last measurement showed a finite weight in the range where unscaled float32 products
        /// are safe: ‖W‖_F ≤ 1e12 and ‖W‖_F / √(mn) ≥ 1e-12 (a lower bound of the largest entry), a margin of many
        /// orders of magnitude over one measurement interval.</summary>
        private static bool IsSafeScale(double frobenius, int outFeatures, int inFeatures) =>
            double.IsFinite(frobenius) && frobenius <= 1e12
            && frobenius / Math.Sqrt((double)outFeatures * inFeatures) >= 1e-12;

        /// <summary>
        /// Stacks one (G, r_j, c_j) tensor per member into (L, G, rows, columns) float32 on <paramref name="device"/>,
        /// zero-padding the last two dimensions:
        /// consecutive members of the same size and dtype are stacked together and padded once, so the operation
        /// count grows with the number of distinct shapes in the bucket, not with the number of layers.
        /// </summary>
        private static Tensor StackPadded(List<Tensor> items, Func<int, (long Rows, long Columns)> size, long rows, long columns, Device device, bool fresh = true)
        {
            var dtypes = items.Select(t => t.dtype).ToArray();
            var parts = new List<Tensor>();
            bool copied = false;
            for (int start = 0; start < items.Count;)
            {
                int end = start + 1;
                while (end < items.Count && size(end) == size(start) && dtypes[end] == dtypes[start])
                    end++;
                var run = end - start == 1 ? items[start].unsqueeze(0) : stack(items.GetRange(start, end - start), 0);
                copied |= end - start > 1;
                if (run.device_type != device.type || run.device_index != device.index)
                {
                    run = run.to(device);
                    copied = true;
                }

                if (dtypes[start] != ScalarType.Float32)
                {
                    run = run.to(ScalarType.Float32);
                    copied = true;
                }

                var (r, c) = size(start);
                copied |= r != rows || c != columns;
                parts.Add(Pad(run, rows, columns));
                start = end;
            }

            // A fresh tensor unless the caller copies it itself (the weights: their out-of-place scaling is the copy),
            // so that nothing done to the stack can reach the model's own tensors.
            return parts.Count > 1 ? cat(parts, 0) : copied || !fresh ? parts[0] : parts[0].clone();
        }

        public Device Device { get; }

        /// <summary>Zero-pads the last two dimensions of <paramref name="t"/> to (<paramref name="rows"/>,
        /// <paramref name="columns"/>); returns it unchanged when it already has that size.</summary>
        private static Tensor Pad(Tensor t, long rows, long columns)
        {
            long extraRows = rows - t.shape[^2], extraColumns = columns - t.shape[^1];
            return extraRows == 0 && extraColumns == 0 ? t : nn.functional.pad(t, [0, extraColumns, 0, extraRows]);
        }

        public int Size => _members.Length;

        public int[] Members => _members;

        /// <summary>Whether the weights are used without rescaling (see <see cref="IsSafeScale"/>).</summary>
        public bool Unscaled { get; }

        /// <summary>After a read-back: whether an unscaled bucket must be measured again, rescaled (a weight left the
        /// safe range since its last measurement, or is not finite).</summary>
        public bool Overflowed()
        {
            if (!Unscaled)
                return false;
            for (int j = 0; j < Size; j++)
            {
                // Any doubt goes to the rescaled path, which also tells non-finite weights from overflowed sums:
                // a norm out of the safe range (or not finite), a non-finite σ1 or v1, or a σ1 far below
                // ‖W‖_F / √rank (a lower bound that always holds).
                var row = Row(j);
                double sigma1 = row[ResultColumns.Sigma1], frobenius = row[ResultColumns.Frobenius];
                if (row[ResultColumns.WeightFinite] == 0 || !IsSafeScale(frobenius, _outFeatures[j], _n)
                    || row[ResultColumns.VectorFinite] == 0 || !double.IsFinite(sigma1)
                    || sigma1 < 0.5 * frobenius / Math.Sqrt(Math.Min(_outFeatures[j], _n)))
                    return true;
            }

            return false;
        }

        public int InitialIterations { get; }

        public int TotalIterations { get; private set; }

        public Tensor? Results { get; private set; }

        public double[]? HostResults { get; set; }

        public void Compute(int iterations, CostProfile? profile)
        {
            long start = profile is null ? 0 : CostProfile.Now;
            var q = SubspaceIteration.Iterate(_weights, _basis, iterations);
            TotalIterations += iterations;
            var ritz = SubspaceIteration.RayleighRitz(_weights, q, _reference, _hasReference);
            _basis = ritz.Basis;
            _finalBasis = ritz.Basis;
            profile?.Add(CostProfile.Phase.Iteration, start);
            start = profile is null ? 0 : CostProfile.Now;
            var (statistics, histogram) = AlignmentStatistics.Compute(_rows, _lengths, ritz.V, _groups, _bins);

            // Per layer: the block-diagonal operator's σ1 is the largest group σ1, its σ2 the second largest of all
            // groups' σ1 and σ2; the residual is the worst group's.
            var sigma1 = (ritz.Sigma1.to(ScalarType.Float64) * _scale).view(-1, _groups);
            var sigma2 = (ritz.Sigma2.to(ScalarType.Float64) * _scale).view(-1, _groups);
            var top = cat([sigma1, sigma2], 1).topk(2, 1).values;
            var spectral = stack(
                [
                    top.select(1, 0),
                    top.select(1, 1),
                    _frobenius,
                    ritz.Residual.to(ScalarType.Float64).view(-1, _groups).amax([1]),
                    _weightFinite.to(ScalarType.Float64),
                    ritz.V.isfinite().all(1).view(-1, _groups).all(1).to(ScalarType.Float64),
                ],
                1);
            Results = cat([statistics, spectral, histogram], 1);
            profile?.Add(CostProfile.Phase.Statistics, start);
        }

        public bool NeedsMoreIterations(SpectralMonitorOptions options)
        {
            if (TotalIterations >= options.MaxPowerIterations)
                return false;
            for (int j = 0; j < Size; j++)
            {
                var row = Row(j);
                double residual = row[ResultColumns.Residual];
                if (row[ResultColumns.WeightFinite] > 0 && row[ResultColumns.Sigma1] > 0
                    && ((_cold[j] && residual > options.ResidualTolerance) || residual > options.RestartResidual))
                    return true;
            }

            return false;
        }

        public void Complete(long step, IReadOnlyList<WatchedLayer> layers, (Tensor? Rows, long Seen)[] captured, SpectralMonitorOptions options, LayerMeasurement[] output)
        {
            for (int j = 0; j < Size; j++)
            {
                int index = _members[j];
                var layer = layers[index];
                var row = Row(j);
                bool weightFinite = row[ResultColumns.WeightFinite] > 0 && row[ResultColumns.VectorFinite] > 0;
                bool zeroWeight = weightFinite && row[ResultColumns.Sigma1] == 0;
                bool hasInput = captured[index].Rows is not null;
                bool converged = !weightFinite || zeroWeight || row[ResultColumns.Residual] <= options.ResidualTolerance;

                var flags = MeasurementConditions.None;
                if (!hasInput) flags |= MeasurementConditions.NoInput;
                if (row[ResultColumns.NonFiniteRows] > 0) flags |= MeasurementConditions.NonFiniteInput;
                if (!weightFinite) flags |= MeasurementConditions.NonFiniteWeight;
                if (zeroWeight) flags |= MeasurementConditions.ZeroWeight;
                if (hasInput && row[ResultColumns.Count] == 0 && row[ResultColumns.NonFiniteRows] == 0) flags |= MeasurementConditions.NoValidRows;
                if (!converged) flags |= MeasurementConditions.NotConverged;
                if (_cold[j]) flags |= MeasurementConditions.ColdStart;

                bool vectorDefined = weightFinite && !zeroWeight;
                output[index] = new LayerMeasurement
                {
                    Layer = layer.Name,
                    Step = step,
                    Stats = vectorDefined ? ToStats(row) : new SpectralAlignmentStats
                    {
                        ZeroRows = (int)row[ResultColumns.ZeroRows],
                        NonFiniteRows = (int)row[ResultColumns.NonFiniteRows],
                    },
                    SpectralNorm = weightFinite ? row[ResultColumns.Sigma1] : double.PositiveInfinity,
                    SecondSingularValue = weightFinite ? row[ResultColumns.Sigma2] : 0,
                    FrobeniusNorm = weightFinite ? row[ResultColumns.Frobenius] : double.PositiveInfinity,
                    Residual = vectorDefined ? row[ResultColumns.Residual] : 0,
                    Iterations = TotalIterations,
                    InputMeanAlignment = vectorDefined ? row[ResultColumns.InputMeanAlignment] : 0,
                    MaxAbsInput = row[ResultColumns.MaxAbsInput],
                    InputRows = captured[index].Seen,
                    Conditions = flags,
                };

                layer.Spectral.LastFrobenius = weightFinite ? row[ResultColumns.Frobenius] : double.NaN;

                // Keep the new basis only when it is meaningful; a non-finite or zero weight keeps the old one.
                if (vectorDefined)
                {
                    layer.Spectral.Replace(_finalBasis!.narrow(0, j * _groups, _groups).clone().DetachFromDisposeScope());
                    // Adapt the warm iteration count without extra synchronisation: after a cold start or restart the
                    // weights are often moving fast (early training), so start generously; double while the residual
                    // stays above the tolerance; relax by one when comfortably below.
                    int hint = Math.Max(layer.Spectral.IterationHint, options.PowerIterations);
                    double residual = row[ResultColumns.Residual];
                    if (TotalIterations > InitialIterations)
                        layer.Spectral.IterationHint = Math.Min(Math.Max(hint, 4 * options.PowerIterations), options.MaxWarmIterations);
                    else if (residual > options.ResidualTolerance)
                        layer.Spectral.IterationHint = Math.Min(2 * InitialIterations, options.MaxWarmIterations);
                    else if (residual < options.ResidualTolerance / 4)
                        layer.Spectral.IterationHint = Math.Max(options.PowerIterations, hint - 1);
                }
            }
        }

        private ReadOnlySpan<double> Row(int j) => new(HostResults!, j * _width, _width);

        private SpectralAlignmentStats ToStats(ReadOnlySpan<double> row)
        {
            var histogram = new int[_bins];
            for (int b = 0; b < _bins; b++)
                histogram[b] = (int)Math.Round(row[ResultColumns.HistogramStart + b]);
            double positive = row[ResultColumns.PositiveFraction];
            return new SpectralAlignmentStats
            {
                Count = (int)row[ResultColumns.Count],
                ZeroRows = (int)row[ResultColumns.ZeroRows],
                NonFiniteRows = (int)row[ResultColumns.NonFiniteRows],
                Mean = row[ResultColumns.Mean],
                StdDev = row[ResultColumns.StdDev],
                PositiveFraction = positive,
                SignDiversity = row[ResultColumns.Count] > 0 ? 2 * Math.Min(positive, 1 - positive) : 0,
                Min = row[ResultColumns.Min],
                P05 = row[ResultColumns.P05],
                P25 = row[ResultColumns.P25],
                Median = row[ResultColumns.Median],
                P75 = row[ResultColumns.P75],
                P95 = row[ResultColumns.P95],
                Max = row[ResultColumns.Max],
                Histogram = histogram,
            };
        }
    }
}
