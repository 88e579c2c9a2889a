using TorchSharp;
using static TorchSharp.torch;

namespace SpectralAlign.Spectral;

/// <summary>
/// One bucket of <see cref="Bucketing.Buckets"/>: layers with the same groups, input width, subspace dimension and
/// device, processed as one stack of L·G units (one per layer and group); the weights are kept in runs of equal m
/// (<see cref="WeightRuns"/>), so that layers of different output widths need no zero padding.
/// </summary>
internal sealed class Bucket
{
    private readonly int[] _members;
    private readonly int _groups;
    private readonly int[] _outFeatures;
    private readonly int _n;               // the input width every layer of the bucket shares
    private readonly ResultLayout _layout;
    private readonly WeightRuns _weights;  // (L·G, m_r, n) float32 runs, scaled so max |w| = 1 per unit unless in the safe range; read only
    private readonly int[] _runOf;         // per member, its run
    private readonly int[] _runFirst;      // per run, its first member
    private readonly Tensor? _scale;       // (L·G) float64, null when unscaled
    private readonly Tensor? _frobenius;    // (L) float64; null when _hostFrobenius is set
    private readonly Tensor? _weightFinite; // (L) bool; null when _hostFrobenius is set
    private readonly double[]? _hostFrobenius; // per layer on the host (HostIteration, unscaled weights, G = 1)
    private readonly Tensor? _reference;    // (L·G, n) previous v1 (zeros for cold layers), null when all are cold
    private readonly Tensor? _hasReference; // (L·G) bool, null when all are warm or all cold
    private readonly bool[]? _unitHasReference; // the same per unit on the host (HostIteration)
    private readonly bool _hostIteration;  // iterated on the host (a CPU bucket of small units, EngineSettings.HostPath)
    private readonly RowStack? _rows;      // the rows stacked on the device (RowAlignment), or
    private readonly HostRows? _hostRows;  // read on the host where they are (a CPU bucket, EngineSettings.HostPath)
    private readonly int _capacity;        // M: row slots per group
    private readonly long[] _counts;       // per member, its rows per group
    private readonly bool[] _cold;
    private readonly int[] _planned;       // per member: the warm iteration count it started with (its hint)
    private readonly int[] _done;          // per member: iterations so far
    private int[] _next;                   // per member: iterations of the next Compute
    private readonly bool[] _hasSketch;    // whether the layer's state holds the previous measurement's sketch
    private readonly Tensor _projection;   // (n, r) Ω of the update sketch
    private readonly Tensor[] _previousSketch; // per run (L_r·G, r, m_r): the shared previous tensor, else a float64 stack (zeros where there is none)
    private readonly AlignmentSummary _summary;
    private readonly RowWorkspace? _workspace;  // where RowAlignment widens the rows, slot _slot
    private readonly int _slot;
    private Tensor _basis;                 // (L·G, n, k)
    private IReadOnlyList<Tensor>? _leftVectors; // per run (L_r·G, m_r)
    private Tensor? _rightVectors;         // (L·G, n) v1
    private List<Tensor>? _sketch;         // per run (L_r·G, r, m_r): float32, float64 when rescaled
    private Tensor? _updateSquared;        // (L), on the device (null for a CPU bucket: _hostUpdateSquared)
    private double[]? _hostUpdateSquared;  // per member, for a CPU bucket (HostSketch)
    private RowAlignment? _alignment;
    private double[]? _host;
    private int _hostOffset;

    public Bucket(int[] members, IReadOnlyList<LayerInput> layers, EngineSettings options, AlignmentSummary summary, bool allowUnscaled = true, RowWorkspace? workspace = null, int slot = 0)
    {
        _workspace = workspace;
        _slot = slot;
        _members = members;
        _summary = summary;
        var first = layers[members[0]];
        _groups = first.Groups;
        int n = _n = first.InFeatures;
        int k = Math.Min(options.SubspaceDimension, n);
        int units = members.Length * _groups;
        var weightList = members.Select(i => layers[i].Weight).ToList();
        Device = weightList[0].device;
        _outFeatures = members.Select(i => layers[i].OutFeatures).ToArray();

        // Weights: stacked in float32 (bf16/fp16 are cast), in runs of equal m. Float32
        // products of WᵀW stay exact enough as long as ‖W‖_F ≤ 1e12 and the entries are not tiny; when every layer's
        // previous measurement says so (and G = 1), the stack is used as it is (for a lone float32 weight, the
        // model's own tensor, only ever read). Otherwise each unit is divided by its largest magnitude, so that
        // neither huge nor tiny weights overflow or underflow. A non-finite unit keeps its NaN/∞: batched
        // products, QR and the float64 k × k eigenproblem keep them inside that unit, whose results are flagged.
        var stacked = WeightRuns.Stack(weightList, _outFeatures, Device, out _runOf);
        _runFirst = [.. Enumerable.Range(0, stacked.Runs.Count).Select(r => Array.IndexOf(_runOf, r))];
        bool safe = allowUnscaled && _groups == 1 && members.All(i => IsSafeScale(layers[i].State.LastFrobenius, layers[i].OutFeatures, layers[i].InFeatures));
        Unscaled = safe;

        // Small units on the CPU iterate on the host, where their weights are (HostIteration): a few microseconds of
        // arithmetic each instead of hundreds of small device operations per measurement; unscaled, their norms and
        // result rows are host values too.
        _hostIteration = options.HostPath && Device.type == DeviceType.CPU && HostIteration.CanRun(stacked);
        Tensor? unitFinite = null;
        if (safe && _hostIteration)
        {
            _weights = stacked;
            _hostFrobenius = HostIteration.Frobenius(stacked);
        }
        else if (safe)
        {
            _weights = stacked;
            var unitFrobenius = WeightRuns.Cat(stacked.Runs.Select(w => linalg.norm(w, [1, 2], false))).to(ScalarType.Float64);
            unitFinite = unitFrobenius.isfinite();
            _frobenius = unitFrobenius;
        }
        else
        {
            // Two reads, no |W| written.
            var absMax = WeightRuns.Cat(stacked.Runs.Select(w => w.amax([1, 2]).maximum(w.amin([1, 2]).neg())));
            unitFinite = absMax.isfinite();
            var scale = absMax.masked_fill(unitFinite.logical_not().logical_or(absMax.eq(Scalars.Zero)), Scalars.One);
            _weights = stacked.Select((w, start, count) => w.div(scale.narrow(0, start, count).view(-1, 1, 1)));   // out of place: a copy
            _scale = scale.to(ScalarType.Float64);
            var unitFrobenius = WeightRuns.Cat(_weights.Runs.Select(w => linalg.norm(w, [1, 2], false))).to(ScalarType.Float64) * _scale;
            _frobenius = unitFrobenius.pow(Scalars.Two).view(-1, _groups).sum(1).sqrt();
        }

        _weightFinite = unitFinite is null ? null : _groups == 1 ? unitFinite : unitFinite.view(-1, _groups).all(1);

        // Warm start from each layer's previous basis; cold layers start from a random basis drawn from a private
        // generator seeded by (seed, layer name), never from torch's global one.
        // When every member's basis is its slice of one shared tensor of the previous step's bucket (the usual case:
        // the same layers measured together again), that tensor is the stack.
        var states = members.Select(i => layers[i].State).ToArray();
        _cold = new bool[members.Length];
        var bases = new List<Tensor>(members.Length);
        var previous = SharedOf(states, s => s.BasisSlice, 0, members.Length);
        if (previous?.Value.shape is [var stackedUnits, var stackedWidth, var stackedColumns] && stackedUnits == units && stackedWidth == n && stackedColumns == k)
            _basis = previous.Value;
        for (int j = 0; j < members.Length && _basis is null; j++)
        {
            var layer = layers[members[j]];
            if (layer.State.BasisSlice?.View() is { } b && b.shape is [var g, var width, var columns] && g == _groups && width == n && columns == k)
            {
                bases.Add(b);
                continue;
            }

            _cold[j] = true;
            using var generator = new Generator(StableHash.Mix((ulong)(uint)options.Seed, StableHash.Fnv1a(layer.Name), 0xC01D), CPU);
            bases.Add(randn([_groups, n, k], dtype: ScalarType.Float32, generator: generator));
        }

        _basis ??= stack(bases.Select(b => b.device_type == Device.type && b.device_index == Device.index ? b : b.to(Device)).ToList(), 0).view(units, n, k);
        // The previous v1 of each unit (null when all are cold) and which units have one (null unless some are
        // cold and some warm), built without a host-to-device copy (a synchronisation on a GPU).
        if (_cold.All(c => !c))
        {
            _reference = _basis.select(2, 0);
        }
        else if (_cold.Any(c => !c))
        {
            _hasReference = cat(_cold.Select(c => full([_groups], c ? Scalars.False : Scalars.True, dtype: ScalarType.Bool, device: Device)).ToList(), 0);
            _unitHasReference = [.. Enumerable.Range(0, units).Select(u => !_cold[u / _groups])];
            _reference = _basis.select(2, 0).clone().masked_fill_(_hasReference.logical_not().unsqueeze(1), Scalars.Zero);
        }

        // Each member iterates as often as its own hint says (SubspaceIteration.Iterate gives the extra steps of
        // slow members to them alone).
        _planned = members.Select(i => Math.Max(options.PowerIterations, layers[i].State.IterationHint)).ToArray();
        _done = new int[members.Length];
        _next = _planned;

        // Input rows, (G, N, n) per layer. On the CPU they are host memory already: HostRows reads each layer's
        // capture where it is, after the read-back, instead of a stack and some fifteen small device operations (a
        // measured step of the demo model spent about a quarter of its time on those). On other devices they are
        // copied into one stack padded with zero rows to the longest capture, for RowAlignment.
        var memberRows = members.Select(i => layers[i].Rows).ToArray();
        if (options.HostPath && Device.type == DeviceType.CPU && memberRows.All(HostRows.CanRead))
        {
            _hostRows = new HostRows(memberRows, _groups, n);
            (_capacity, _counts) = (_hostRows.Capacity, _hostRows.Counts);
            _layout = ResultLayout.ForHost();
        }
        else
        {
            _rows = new RowStack(memberRows, _groups, n, Device);
            (_capacity, _counts) = (_rows.Capacity, _rows.Counts);
            _layout = new ResultLayout(_groups * _rows.Capacity);
        }

        // The update sketch: one Ω per input width (the same matrix in every layer's state), the previous WΩ.
        bool Usable(Tensor? p) => p is not null && p.shape[0] == n && p.device_type == Device.type && p.device_index == Device.index;
        var shared = states.Select(st => st.Projection).FirstOrDefault(Usable);
        bool owned = shared is not null;
        _projection = shared ?? UpdateSketch.Projection(n, Device);
        foreach (var state in states.Where(st => !Usable(st.Projection)))
        {
            state.Projection?.Dispose();
            state.Projection = owned ? _projection.alias().DetachFromDisposeScope() : _projection;
            owned = true;
        }

        // The previous sketches, per run: the run's shared tensor of the previous step when its members are the same,
        // else stacked from the members' sketches (zeros where a member has none).
        _hasSketch = new bool[members.Length];
        _previousSketch = new Tensor[_weights.Runs.Count];
        for (int r = 0, firstMember = 0; r < _previousSketch.Length; r++)
        {
            int count = (int)_weights.Count(r) / _groups;
            long rows = _outFeatures[firstMember];
            var previousSketch = SharedOf(states, s => s.SketchSlice, firstMember, count);
            if (previousSketch?.Value.shape is [_, UpdateSketch.Columns, var sketchRows] && sketchRows == rows)
            {
                Array.Fill(_hasSketch, true, firstMember, count);
                _previousSketch[r] = previousSketch.Value;
            }
            else
            {
                var sketches = states[firstMember..(firstMember + count)].Select(st => st.SketchSlice?.View()).ToArray();
                for (int j = 0; j < count; j++)
                    _hasSketch[firstMember + j] = sketches[j]?.shape is [var g, UpdateSketch.Columns, var sketchRows2] && g == _groups && sketchRows2 == rows;
                _previousSketch[r] = RowStack.Stack(sketches.Select((sk, j) => _hasSketch[firstMember + j] ? sk : null).ToArray(), _groups, UpdateSketch.Columns, rows, Device);
            }

            firstMember += count;
        }
    }

    /// <summary>The shared tensor of which the slices (by <paramref name="slice"/>) of members [<paramref name="from"/>,
    /// + <paramref name="count"/>) are, in order, all the units; <c>null</c> when there is none.</summary>
    private SharedTensor? SharedOf(SpectralState[] states, Func<SpectralState, StateSlice?> slice, int from, int count)
    {
        var source = slice(states[from])?.Source;
        if (source is null || source.Value.shape[0] != (long)count * _groups)
            return null;
        for (int j = 0; j < count; j++)
        {
            if (slice(states[from + j]) is not { } own || !own.IsSliceOf(source, j * _groups, _groups))
                return null;
        }

        return source;
    }

    public Device Device { get; }

    public int Size => _members.Length;

    public int[] Members => _members;

    /// <summary>Whether the weights are used without rescaling (see <see cref="IsSafeScale"/>).</summary>
    public bool Unscaled { get; }

    /// <summary>The results of the last <see cref="Compute"/> to read back, (L, <see cref="ResultLayout.Width"/>) of this
    /// bucket's <see cref="ResultLayout"/>, on the bucket's device (for a host bucket of unscaled weights, packed from
    /// host values).</summary>
    public Tensor? Results { get; private set; }

    /// <summary>Whether the last measurement showed a finite weight in the range where unscaled float32 products
    /// are safe: ‖W‖_F ≤ 1e12 and ‖W‖_F / √(mn) ≥ 1e-12 (a lower bound of the largest entry), a margin of many
    /// orders of magnitude over one measurement interval.</summary>
    private static bool IsSafeScale(double frobenius, int outFeatures, int inFeatures) =>
        double.IsFinite(frobenius) && frobenius <= 1e12
        && frobenius / Math.Sqrt((double)outFeatures * inFeatures) >= 1e-12;

    /// <summary>Receives this bucket's rows of a host copy (packed by <see cref="ResultLayout"/>).</summary>
    public void SetHostResults(double[] values, int offset)
    {
        _host = values;
        _hostOffset = offset;
    }

    private ResultRow Row(int j) => _layout.Row(_host!, _hostOffset, j);

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
            double sigma1 = row[ResultField.Sigma1], frobenius = row[ResultField.Frobenius];
            if (row[ResultField.WeightFinite] == 0 || !IsSafeScale(frobenius, _outFeatures[j], _n)
                || row[ResultField.VectorFinite] == 0 || !double.IsFinite(sigma1)
                || sigma1 < 0.5 * frobenius / Math.Sqrt(Math.Min(_outFeatures[j], _n)))
                return true;
        }

        return false;
    }

    /// <summary>Iterates each member as planned (its warm hint on the first call, then what
    /// <see cref="NeedsMoreIterations"/> decided) and extracts the Ritz pairs and the device results.</summary>
    public void Compute(CostProfile? profile)
    {
        long start = profile is null ? 0 : CostProfile.Now;
        var perUnit = new int[_next.Length * _groups];
        for (int j = 0; j < _next.Length; j++)
        {
            Array.Fill(perUnit, _next[j], j * _groups, _groups);
            _done[j] += _next[j];
        }

        HostIteration.Result? host = null;
        SubspaceIteration.Ritz ritz = default;
        if (_hostIteration)
        {
            host = HostIteration.Run(_weights, _basis, perUnit, _reference, _unitHasReference);
            (_basis, _leftVectors, _rightVectors) = (host.Basis, host.U, host.V);
        }
        else
        {
            ritz = SubspaceIteration.RayleighRitz(_weights, SubspaceIteration.Iterate(_weights, _basis, perUnit), _reference, _hasReference, onHost: _hostRows is not null);
            (_basis, _leftVectors, _rightVectors) = (ritz.Basis, ritz.U, ritz.V);
        }

        if (_sketch is null)
            Sketch();
        profile?.Add(CostProfile.Phase.Iteration, start);
        start = profile is null ? 0 : CostProfile.Now;
        var columns = new Dictionary<ResultField, Tensor>();
        if (_updateSquared is not null)
            columns[ResultField.UpdateSquared] = _updateSquared;
        if (_rows is not null)
        {
            _alignment ??= new RowAlignment(_rows, _workspace, _slot);
            _alignment.Compute(_rightVectors, columns);
        }

        // Every field of an unscaled host bucket's host layout is a host value already: one tensor, no conversions.
        Results = host is not null && _hostFrobenius is not null && _hostRows is not null
            ? _layout.Pack(Size, HostColumns(host))
            : _layout.Pack(AddSpectralColumns(columns, host?.ToRitz() ?? ritz));
        profile?.Add(CostProfile.Phase.Statistics, start);
    }

    /// <summary>The update sketch of this measurement, per run, and (off the CPU) the squared sketch distance per
    /// layer.</summary>
    private void Sketch()
    {
        // (WΩ)ᵀ = ΩᵀWᵀ of the true weight per run (the narrow factor on the left), and ‖(W_t − W_prev)Ω‖²_F / r
        // per layer.
        // Unscaled weights (‖W‖_F ≤ 1e12) keep the float32 product: the difference of two nearby float32 sketches
        // is exact (Sterbenz), and the norm's float32 rounding is far below the estimate's own spread (about
        // √(2/r)); rescaled weights go to float64 with their scale.
        var products = _weights.SharedTimes(_projection.t());
        if (_scale is null)
        {
            _sketch = products;
        }
        else
        {
            var scale = _weights.Parts(_scale.view(-1, 1, 1));
            _sketch = [.. products.Select((sketch, r) => sketch.to(ScalarType.Float64).mul_(scale[r]))];
        }

        // On the CPU the host sums the differences where the sketches are (HostSketch, in CompleteOnHost).
        if (_hostRows is null)
        {
            var squared = WeightRuns.Cat(_sketch.Select((sketch, r) => linalg.norm(sketch - _previousSketch[r], [1, 2], false).to(ScalarType.Float64))).pow_(Scalars.Two);
            _updateSquared = (_groups == 1 ? squared : squared.view(-1, _groups).sum([1])).div_(UpdateSketch.ColumnCount);
        }
    }

    /// <summary>Adds the spectral fields of the device layout to <paramref name="columns"/>, from the Ritz pairs.</summary>
    private Dictionary<ResultField, Tensor> AddSpectralColumns(Dictionary<ResultField, Tensor> columns, SubspaceIteration.Ritz ritz)
    {
        // Per layer: the block-diagonal operator's σ1 is the largest group σ1, its σ2 the second largest of all
        // groups' σ1 and σ2; the residual is the worst group's.
        var sigma1 = _scale is null ? ritz.Sigma1.to(ScalarType.Float64) : ritz.Sigma1.to(ScalarType.Float64) * _scale;
        var sigma2 = _scale is null ? ritz.Sigma2.to(ScalarType.Float64) : ritz.Sigma2.to(ScalarType.Float64) * _scale;
        var vectorFinite = ritz.V.isfinite().all(1);
        if (_groups == 1)
        {
            columns[ResultField.Sigma1] = sigma1;
            columns[ResultField.Sigma2] = sigma2;
            columns[ResultField.Residual] = ritz.Residual;
            columns[ResultField.VectorFinite] = vectorFinite;
        }
        else
        {
            var top = cat([sigma1.view(-1, _groups), sigma2.view(-1, _groups)], 1).topk(2, 1).values;
            columns[ResultField.Sigma1] = top.select(1, 0);
            columns[ResultField.Sigma2] = top.select(1, 1);
            columns[ResultField.Residual] = ritz.Residual.view(-1, _groups).amax([1]);
            columns[ResultField.VectorFinite] = vectorFinite.view(-1, _groups).all(1);
        }

        var frobenius = _frobenius ?? tensor(_hostFrobenius!);   // host norms, rows' fields on the device
        columns[ResultField.Frobenius] = frobenius;
        columns[ResultField.WeightFinite] = _weightFinite ?? frobenius.isfinite();
        return columns;
    }

    /// <summary>The host layout's fields of an unscaled bucket with one group per layer (units are layers), from
    /// <see cref="HostIteration"/>'s values and the host norms: what the device columns give, as host values.</summary>
    private Dictionary<ResultField, double[]> HostColumns(HostIteration.Result host) => new()
    {
        [ResultField.Sigma1] = [.. host.Sigma1.Select(x => (double)x)],
        [ResultField.Sigma2] = [.. host.Sigma2.Select(x => (double)x)],
        [ResultField.Residual] = [.. host.Residual.Select(x => (double)x)],
        [ResultField.VectorFinite] = [.. host.VectorFinite.Select(x => x ? 1.0 : 0.0)],
        [ResultField.Frobenius] = _hostFrobenius!,
        [ResultField.WeightFinite] = [.. _hostFrobenius!.Select(x => double.IsFinite(x) ? 1.0 : 0.0)],
    };

    /// <summary>For a bucket on the CPU, computes on the host what the device computes elsewhere: the rows' values
    /// against the final v1 (<see cref="HostRows"/>) and each member's sketch distance (<see cref="HostSketch"/>); call
    /// once after the last <see cref="Compute"/> and read-back. Nothing for a device bucket.</summary>
    /// <param name="hostBuffers">Where a rented buffer is registered (returned by the engine).</param>
    public void CompleteOnHost(List<double[]> hostBuffers)
    {
        if (_hostRows is null)
            return;
        _hostRows.Align(_rightVectors!, hostBuffers);
        _hostUpdateSquared = new double[Size];
        for (int run = 0; run < _previousSketch.Length; run++)
        {
            int first = _runFirst[run], count = (int)_weights.Count(run) / _groups;
            if (_hasSketch.AsSpan(first, count).Contains(true))
                HostSketch.SquaredDistances(_sketch![run], _previousSketch[run], _groups, _hostUpdateSquared.AsSpan(first, count));
        }
    }

    /// <summary>u1 (G, m_j) and v1 (G, n) of member <paramref name="j"/> from the last <see cref="Compute"/>: views
    /// of the bucket's device tensors.</summary>
    public (Tensor U, Tensor V) TopVectors(int j) =>
        (_leftVectors![_runOf[j]].narrow(0, (j - _runFirst[_runOf[j]]) * _groups, _groups), _rightVectors!.narrow(0, j * _groups, _groups));

    /// <summary>After a read-back: whether member <paramref name="j"/>'s u1 and v1 are defined (a finite, non-zero
    /// weight whose v1 is finite).</summary>
    public bool VectorsDefined(int j)
    {
        var row = Row(j);
        return row[ResultField.WeightFinite] > 0 && row[ResultField.VectorFinite] > 0 && row[ResultField.Sigma1] != 0;
    }

    /// <summary>After a read-back: whether a member needs more iterations within this step (a cold start above the
    /// tolerance, or a lost warm start); plans them (as many again as it had, at least 4, up to
    /// <see cref="EngineSettings.MaxPowerIterations"/>) for the next <see cref="Compute"/>, 0 for the
    /// others.</summary>
    public bool NeedsMoreIterations(EngineSettings options)
    {
        var next = new int[Size];
        bool any = false;
        for (int j = 0; j < Size; j++)
        {
            var row = Row(j);
            double residual = row[ResultField.Residual];
            if (_done[j] < options.MaxPowerIterations && row[ResultField.WeightFinite] > 0 && row[ResultField.Sigma1] > 0
                && ((_cold[j] && residual > options.ResidualTolerance) || residual > options.RestartResidual))
            {
                next[j] = Math.Min(Math.Max(_done[j], 4), options.MaxPowerIterations - _done[j]);
                any = true;
            }
        }

        _next = next;
        return any;
    }

    /// <summary>Builds the members' measurements into <paramref name="output"/> and updates their states.</summary>
    /// <param name="step">The measured step.</param>
    /// <param name="layers">All layers of the call.</param>
    /// <param name="options">The monitor's options.</param>
    /// <param name="output">One slot per layer of the call.</param>
    /// <param name="upstreamAlignment">Per layer of the call, its <see cref="LayerMeasurement.UpstreamAlignment"/>.</param>
    public void Complete(long step, IReadOnlyList<LayerInput> layers, EngineSettings options, LayerMeasurement[] output, double[] upstreamAlignment)
    {
        // The states keep slices of the bucket's tensors; the bucket's own references end with this call.
        var basis = new SharedTensor(_basis);
        var left = _leftVectors!.Select(u => new SharedTensor(u)).ToArray();
        var sketch = _sketch!.Select(sk => new SharedTensor(sk)).ToArray();
        try
        {
            Complete(step, layers, options, output, upstreamAlignment, basis, left, sketch);
        }
        finally
        {
            basis.Release();
            foreach (var shared in left.Concat(sketch))
                shared.Release();
        }
    }

    private void Complete(long step, IReadOnlyList<LayerInput> layers, EngineSettings options, LayerMeasurement[] output, double[] upstreamAlignment, SharedTensor basis, SharedTensor[] left, SharedTensor[] sketch)
    {
        for (int j = 0; j < Size; j++)
        {
            int index = _members[j];
            var layer = layers[index];
            var row = Row(j);
            bool weightFinite = row[ResultField.WeightFinite] > 0 && row[ResultField.VectorFinite] > 0;
            bool zeroWeight = weightFinite && row[ResultField.Sigma1] == 0;
            bool hasInput = layer.Rows is not null;
            bool converged = !weightFinite || zeroWeight || row[ResultField.Residual] <= options.ResidualTolerance;

            bool vectorDefined = weightFinite && !zeroWeight;
            var alignment = _hostRows is null
                ? _summary.Summarize(row, _groups, _capacity, _counts[j], vectorDefined)
                : _summary.Summarize(_hostRows.Values(j), _groups, _capacity, _counts[j], vectorDefined);
            var counts = alignment.Counts;
            var flags = MeasurementConditions.None;
            if (!hasInput) flags |= MeasurementConditions.NoInput;
            if (counts.NonFiniteRows > 0) flags |= MeasurementConditions.NonFiniteInput;
            if (!weightFinite) flags |= MeasurementConditions.NonFiniteWeight;
            if (zeroWeight) flags |= MeasurementConditions.ZeroWeight;
            if (hasInput && counts.ZeroRows == _counts[j] * _groups) flags |= MeasurementConditions.NoValidRows;
            if (!converged) flags |= MeasurementConditions.NotConverged;
            if (_cold[j]) flags |= MeasurementConditions.ColdStart;

            double frobenius = row[ResultField.Frobenius];
            output[index] = new LayerMeasurement
            {
                Layer = layer.Name,
                Step = step,
                Stats = alignment.Stats,
                CenteredStats = alignment.CenteredStats,
                SpectralNorm = weightFinite ? row[ResultField.Sigma1] : double.PositiveInfinity,
                SecondSingularValue = weightFinite ? row[ResultField.Sigma2] : 0,
                FrobeniusNorm = weightFinite ? frobenius : double.PositiveInfinity,
                Residual = vectorDefined ? row[ResultField.Residual] : 0,
                Iterations = _done[j],
                InputMeanAlignment = alignment.InputMeanAlignment,
                MaxAbsInput = alignment.MaxAbsInput,
                MaxInputRowNorm = alignment.MaxRowNorm,
                UpstreamAlignment = upstreamAlignment[index],
                UpdateRatio = _hasSketch[j] && weightFinite && frobenius > 0 ? Math.Sqrt(Math.Max(0, _hostUpdateSquared?[j] ?? row[ResultField.UpdateSquared])) / frobenius : double.NaN,
                InputRows = layer.SeenRows,
                Conditions = flags,
            };

            var state = layer.State;
            state.LastFrobenius = weightFinite ? row[ResultField.Frobenius] : double.NaN;
            int run = _runOf[j], inRun = (j - _runFirst[run]) * _groups;
            state.ReplaceSketch(weightFinite ? new StateSlice(sketch[run], inRun, _groups) : null);

            // Keep the new basis only when it is meaningful; a non-finite or zero weight keeps the old one.
            if (vectorDefined)
            {
                // Slices of the bucket's tensors (no copies, no view until someone reads them).
                state.Replace(new StateSlice(basis, j * _groups, _groups), row[ResultField.Sigma1], new StateSlice(left[run], inRun, _groups));
                state.IterationHint = IterationHints.Next(state.IterationHint, _planned[j], _done[j], row[ResultField.Residual], options);
            }
        }
    }
}
