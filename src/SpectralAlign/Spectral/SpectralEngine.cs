using SpectralAlign.Hooks;
using SpectralAlign.Telemetry;
using TorchSharp;
using static TorchSharp.torch;

namespace SpectralAlign.Spectral;

/// <summary>
/// The measurement of one step: groups the watched layers by weight shape and device, runs the stacked subspace
/// iteration and the SA statistics on the device, and copies all results to the host in one transfer per device.
/// A group keeps iterating (with further transfers) only while a residual is above the tolerance, which happens on
/// cold starts and after abrupt weight changes.
/// </summary>
internal sealed class SpectralEngine : IDisposable
{
    private readonly SpectralMonitorOptions _options;
    private long _hostReadbacks;

    public SpectralEngine(SpectralMonitorOptions options) => _options = options;

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
                        Weight = layers[i].View.CurrentWeight()!.detach(),
                    });
                }
            }

            var groups = new List<Group>();
            foreach (var grouping in Enumerable.Range(0, layers.Count).GroupBy(i => GroupKey(layers[i])))
            {
                var members = grouping.ToArray();
                if (members.Length > 0)
                    groups.Add(new Group(members, layers, captured, _options));
            }

            foreach (var group in groups)
                group.Compute(group.InitialIterations);
            ReadBack(groups);

            // Continue within the step only for cold starts and lost warm starts (abrupt weight changes); a warm layer
            // that is merely short of the tolerance gets more iterations next time instead of another synchronisation.
            while (true)
            {
                var pending = groups.Where(g => g.NeedsMoreIterations(_options)).ToList();
                if (pending.Count == 0)
                    break;
                foreach (var group in pending)
                    group.Compute(Math.Min(Math.Max(group.TotalIterations, 4), _options.MaxPowerIterations - group.TotalIterations));
                ReadBack(pending);
            }

            var measurements = new LayerMeasurement[layers.Count];
            foreach (var group in groups)
                group.Complete(step, layers, captured, _options, measurements);
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

    private static (int Groups, int Out, int In, string Device) GroupKey(WatchedLayer layer) =>
        (layer.View.Groups, layer.View.OutFeatures, layer.View.InFeatures, layer.View.CurrentWeight()?.device.ToString() ?? "none");

    private void ReadBack(List<Group> groups)
    {
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
    }

    /// <summary>
    /// Layers that share one view shape (groups, out, in) and device, processed as one stack of L·G units (one per
    /// layer and group).
    /// </summary>
    private sealed class Group
    {
        private readonly int[] _members;
        private readonly int _groups;
        private readonly Tensor _weights;      // (L·G, m, n) float32, scaled so max |w| = 1 per unit
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

        public Group(int[] members, IReadOnlyList<WatchedLayer> layers, (Tensor? Rows, long Seen)[] captured, SpectralMonitorOptions options)
        {
            _members = members;
            _bins = options.HistogramBins;
            _width = ResultColumns.Width(_bins);
            var view = layers[members[0]].View;
            _groups = view.Groups;
            int n = view.InFeatures;
            int k = Math.Min(options.SubspaceDimension, n);
            int units = members.Length * _groups;
            var weightList = members.Select(i => layers[i].View.CurrentWeight()!.detach()).ToList();
            Device = weightList[0].device;

            // Weights: stacked in float32 (bf16/fp16 are cast), scaled by their largest magnitude so that neither
            // huge nor tiny weights overflow or underflow; non-finite weights are zeroed and flagged.
            var stacked = stack(weightList.Select(w => w.to(ScalarType.Float32)).ToList(), 0).reshape(units, view.OutFeatures, n);
            var absMax = stacked.abs().amax([1, 2]);
            var unitFinite = absMax.isfinite();
            var scale = absMax.masked_fill(unitFinite.logical_not().logical_or(absMax.eq(0)), 1);
            _weights = stacked.div_(scale.view(-1, 1, 1)).masked_fill_(unitFinite.logical_not().view(-1, 1, 1), 0);
            _scale = scale.to(ScalarType.Float64);
            var unitFrobenius = linalg.vector_norm(_weights, 2, [1, 2], false).to(ScalarType.Float64) * _scale;
            _frobenius = unitFrobenius.square().view(-1, _groups).sum(1).sqrt();
            _weightFinite = unitFinite.view(-1, _groups).all(1);

            // Warm start from each layer's previous basis; cold layers start from a random basis drawn from a private
            // generator seeded by (seed, layer name), never from torch's global one.
            _cold = members.Select(i => layers[i].Spectral.Basis is not { } b || b.shape[0] != _groups || b.shape[2] != k).ToArray();
            var bases = new List<Tensor>(members.Length);
            for (int j = 0; j < members.Length; j++)
            {
                if (!_cold[j])
                {
                    bases.Add(layers[members[j]].Spectral.Basis!.to(Device));
                    continue;
                }

                using var generator = new Generator(RowSampler.Mix((ulong)(uint)options.Seed, RowSampler.Fnv1a(layers[members[j]].Name), 0xC01D), CPU);
                bases.Add(randn([_groups, n, k], dtype: ScalarType.Float32, generator: generator).to(Device));
            }

            _basis = stack(bases, 0).reshape(units, n, k);
            var warm = tensor(_cold.Select(c => !c).ToArray(), device: Device);
            _hasReference = _groups == 1 ? warm : warm.repeat_interleave(_groups);
            _reference = _basis.select(2, 0).clone().masked_fill_(_hasReference.logical_not().unsqueeze(1), 0);

            InitialIterations = Math.Max(options.PowerIterations, members.Max(i => layers[i].Spectral.IterationHint));

            // Input rows, (G, N, n) per layer, padded to the longest capture of the group.
            var rows = members.Select(i => captured[i].Rows).ToArray();
            long capacity = Math.Max(1, rows.Max(r => r is null ? 0 : r.shape[1]));
            _lengths = tensor(rows.Select(r => r is null ? 0L : r.shape[1]).ToArray(), device: Device);
            if (rows.All(r => r is not null && r.shape[1] == capacity && r.device == Device))
            {
                _rows = stack(rows.Select(r => r!.to(ScalarType.Float32)).ToList(), 0).reshape(units, capacity, n);
            }
            else
            {
                var padded = zeros([members.Length, _groups, capacity, n], dtype: ScalarType.Float32, device: Device);
                for (int j = 0; j < rows.Length; j++)
                {
                    if (rows[j] is { } r && r.shape[1] > 0)
                        padded.select(0, j).narrow(1, 0, r.shape[1]).copy_(r);
                }

                _rows = padded.reshape(units, capacity, n);
            }
        }

        public Device Device { get; }

        public int Size => _members.Length;

        public int InitialIterations { get; }

        public int TotalIterations { get; private set; }

        public Tensor? Results { get; private set; }

        public double[]? HostResults { get; set; }

        public void Compute(int iterations)
        {
            var q = SubspaceIteration.Iterate(_weights, _basis, iterations);
            TotalIterations += iterations;
            var ritz = SubspaceIteration.RayleighRitz(_weights, q, _reference, _hasReference);
            _basis = ritz.Basis;
            _finalBasis = ritz.Basis;
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
