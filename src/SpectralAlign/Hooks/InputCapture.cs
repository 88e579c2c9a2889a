using SpectralAlign.Spectral;
using TorchSharp;
using static TorchSharp.torch;

namespace SpectralAlign.Hooks;

/// <summary>
/// Holds the input rows one view saw on the current measured step: a detached, subsampled (G, rows, n) copy on the
/// input's device, at most <c>capacity</c> rows, filled in call order (with gradient accumulation the first
/// micro-batch usually fills it). The sample is a uniform one without replacement (every subset of the kept size
/// equally likely): the first rows of randperm(N) from a private generator seeded from (seed, layer, step) — never
/// torch's global generator — so a run resumed from a checkpoint draws the same rows. On the CPU the indices are drawn
/// on the host by <see cref="RowSampler"/> (the same indices, without randperm's draws for the rows not kept), through
/// the monitor's <see cref="HostRowIndex"/>; on other devices by randperm on the device, so no index crosses between host
/// and device. Thread-safe; owns its tensors until <see cref="Take"/> hands them over.
/// </summary>
internal sealed class InputCapture(string layer, int capacity, int seed) : IDisposable
{
    private readonly object _sync = new();
    private readonly List<(Tensor Rows, RowRecovery? Recovery)> _parts = [];
    private readonly ulong _layerHash = StableHash.Fnv1a(layer);
    private Generator? _generator;
    private int _rows;
    private long _seenRows;
    private bool _disposed;

    /// <summary>Whether CPU inputs draw their indices on the host (<see cref="RowSampler"/>); <c>false</c> makes them
    /// use the device path (randperm), as other devices do (tests compare the two).</summary>
    internal bool HostSampling { get; init; } = true;

    /// <summary>Whether the current step's sample holds <c>capacity</c> rows: later calls of the step add nothing to it
    /// (the hooks then return at once; see <c>CaptureScheduler</c>). Reset by <see cref="Take"/>.</summary>
    public bool IsFull => Volatile.Read(ref _rows) >= capacity;

    /// <summary>Counts the rows of <paramref name="rows"/> (G, N, n) and, while there is room, copies a uniform
    /// subsample of them, building only the rows kept. <paramref name="recovery"/>, if given, is called only when rows
    /// are kept (so whatever it copies is copied only then), and its result is applied to the copy at
    /// <see cref="Take"/> and then disposed; <paramref name="index"/>, if given, is the monitor's shared index tensor
    /// for CPU draws (else each draw makes its own). Never modifies the input.</summary>
    public void Add(long step, RowSource rows, Func<RowRecovery>? recovery = null, HostRowIndex? index = null)
    {
        lock (_sync)
        {
            long count = rows.Count;
            if (!_disposed)
                _seenRows += count;
            if (_disposed || _rows >= capacity || count == 0)
                return;

            using var noGrad = no_grad();
            using var scope = NewDisposeScope();
            int take = (int)Math.Min(count, capacity - _rows);
            // Always a copy: the caller's activation may be modified in place later (e.g. an in-place ReLU). Made
            // under no_grad, so it has no autograd history.
            var copy = take == count ? rows.CopyAll() : Sample(rows, step, count, take, index);
            var recovered = recovery?.Invoke();
            _parts.Add((copy.DetachFromDisposeScope(), recovered));
            _rows += take;
        }
    }

    /// <summary><see cref="Add(long, RowSource, Func{RowRecovery}, HostRowIndex)"/> for rows that are a (G, N, n)
    /// tensor.</summary>
    public void Add(long step, Tensor rows, Func<RowRecovery>? recovery = null, HostRowIndex? index = null) =>
        Add(step, RowSource.Of(rows), recovery, index);

    /// <summary>The <paramref name="take"/> rows kept of the <paramref name="count"/> rows of
    /// <paramref name="rows"/> at <paramref name="step"/> (in the caller's dispose scope): those at the first
    /// <paramref name="take"/> entries of randperm(<paramref name="count"/>) from a generator seeded from
    /// (seed, layer, step), drawn on the input's device. A step samples at most once (the capture is full afterwards),
    /// so every draw starts from the seed.</summary>
    private Tensor Sample(RowSource rows, long step, long count, int take, HostRowIndex? index)
    {
        ulong mixed = StableHash.Mix((ulong)(uint)seed, _layerHash, (ulong)step);
        var device = rows.Device;
        if (HostSampling && device.type == DeviceType.CPU && count <= RowSampler.MaxRows)
            return index is null ? HostRowIndex.SelectOnce(rows, mixed, count, take) : index.Select(rows, mixed, count, take);

        if (_generator is null || _generator.device.type != device.type || _generator.device.index != device.index)
        {
            _generator?.Dispose();
            _generator = new Generator(0, device);
        }

        _generator.manual_seed((long)mixed);
        return rows.Select(randperm(count, dtype: ScalarType.Int64, device: device, generator: _generator).narrow(0, 0, take));
    }

    /// <summary>Hands over the captured (G, rows, n) tensor, owned by the caller (or <c>null</c> when nothing was
    /// captured), with the number of rows seen before subsampling, and resets the capture. Runs the pending
    /// recoveries.</summary>
    public (Tensor? Rows, long SeenRows) Take()
    {
        lock (_sync)
        {
            long seen = _seenRows;
            _seenRows = 0;
            _rows = 0;
            if (_parts.Count == 0)
                return (null, seen);

            try
            {
                using var scope = NewDisposeScope();
                using var noGrad = no_grad();
                var parts = _parts.Select(p => p.Recovery is null ? p.Rows : p.Recovery.Apply(p.Rows)).ToList();
                var rows = parts.Count == 1 ? parts[0] : cat(parts.Select(p => p.to(parts[0].dtype)).ToList(), 1);
                if (ReferenceEquals(rows, _parts[0].Rows))
                    return (rows, seen);   // handed over as it is: not disposed below
                return (rows.DetachFromDisposeScope(), seen);
            }
            finally
            {
                Release(keepFirst: _parts.Count == 1 && _parts[0].Recovery is null);
            }
        }
    }

    /// <summary>Drops what has been captured and counted since the last <see cref="Take"/>, as if nothing had been
    /// (a restored state: those rows belong to the replaced run).</summary>
    public void Discard()
    {
        lock (_sync)
        {
            Release(keepFirst: false);
            _rows = 0;
            _seenRows = 0;
        }
    }

    private void Release(bool keepFirst)
    {
        for (int i = 0; i < _parts.Count; i++)
        {
            if (i > 0 || !keepFirst)
                _parts[i].Rows.Dispose();
            _parts[i].Recovery?.Dispose();
        }

        _parts.Clear();
    }

    public void Dispose()
    {
        lock (_sync)
        {
            _disposed = true;
            Release(keepFirst: false);
            _generator?.Dispose();
            _generator = null;
            _rows = 0;
        }
    }
}
