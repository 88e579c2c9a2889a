using System.Buffers;
using static TorchSharp.torch;

namespace SpectralAlign.Spectral;

/// <summary>
/// The measurement core, callable with plain tensors: groups the layers into buckets (see
/// <see cref="Bucketing"/>), runs the stacked subspace iteration and the per-row products on the device, copies all
/// results to the host in one transfer per device and summarises the distributions there. On the CPU, whose memory is
/// the host's, the per-row products are computed on the host from the captured rows where they are
/// (<see cref="HostRows"/>, after the read-back) instead of with device operations, and small weights iterate on the
/// host too (<see cref="HostIteration"/>). The upstream alignments of
/// linked layers (<see cref="LayerInput.Upstream"/>, <see cref="UpstreamLinks"/>) travel in the same transfer.
/// A bucket keeps iterating (with further transfers) only while a residual is above the tolerance, which happens on
/// cold starts and after abrupt weight changes.
/// </summary>
internal sealed class SpectralEngine(EngineSettings options) : IDisposable
{
    private readonly AlignmentSummary _summary = new(options.HistogramBins);
    private readonly RowWorkspace _rowWorkspace = new();

    /// <summary>When set, accumulates the time of each phase.</summary>
    public CostProfile? Profile { get; set; }

    /// <summary>Measures every layer for <paramref name="step"/>.</summary>
    /// <param name="step">The measured step (labels the measurements).</param>
    /// <param name="layers">The layers; their tensors are only read, their states updated.</param>
    /// <returns>One measurement per layer, in the same order.</returns>
    public LayerMeasurement[] Measure(long step, IReadOnlyList<LayerInput> layers)
    {
        ArgumentNullException.ThrowIfNull(layers);
        if (layers.Count == 0)
            return [];
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var hostBuffers = new List<double[]>(1);
        try
        {
            return MeasureBuckets(step, layers, hostBuffers);
        }
        finally
        {
            foreach (var buffer in hostBuffers)
                ArrayPool<double>.Shared.Return(buffer);
        }
    }

    /// <summary>The measurement, with the host buffers of its read-backs collected in <paramref name="hostBuffers"/>
    /// (rented; the caller returns them once the measurements are built).</summary>
    private LayerMeasurement[] MeasureBuckets(long step, IReadOnlyList<LayerInput> layers, List<double[]> hostBuffers)
    {
        var links = new UpstreamLinks(layers);
        var profile = Profile;
        long start = profile is null ? 0 : CostProfile.Now;
        var buckets = Bucketing.Buckets(layers, options.SubspaceDimension)
            .Select((members, slot) => new Bucket(members, layers, options, _summary, workspace: _rowWorkspace, slot: slot))
            .ToList();
        profile?.Add(CostProfile.Phase.Assembly, start);
        foreach (var bucket in buckets)
            bucket.Compute(profile);
        ReadBack(buckets, buckets, links, hostBuffers);

        // A weight that grew by many orders of magnitude since its last measurement can overflow the unscaled
        // products: measure that bucket again, rescaled (an extra transfer, only in that case).
        var rescaled = new List<Bucket>();
        for (int b = 0; b < buckets.Count; b++)
        {
            if (!buckets[b].Overflowed())
                continue;
            buckets[b] = new Bucket(buckets[b].Members, layers, options, _summary, allowUnscaled: false, _rowWorkspace, b);
            buckets[b].Compute(profile);
            rescaled.Add(buckets[b]);
        }

        if (rescaled.Count > 0)
            ReadBack(rescaled, buckets, links, hostBuffers);

        // Continue within the step only for cold starts and lost warm starts (abrupt weight changes); a warm layer
        // that is merely short of the tolerance gets more iterations next time instead of another synchronisation.
        while (true)
        {
            var pending = buckets.Where(b => b.NeedsMoreIterations(options)).ToList();
            if (pending.Count == 0)
                break;
            foreach (var bucket in pending)
                bucket.Compute(profile);
            ReadBack(pending, buckets, links, hostBuffers);
        }

        start = profile is null ? 0 : CostProfile.Now;
        foreach (var bucket in buckets)
            bucket.CompleteOnHost(hostBuffers);
        profile?.Add(CostProfile.Phase.Statistics, start);

        start = profile is null ? 0 : CostProfile.Now;
        links.Finish();
        var measurements = new LayerMeasurement[layers.Count];
        foreach (var bucket in buckets)
            bucket.Complete(step, layers, options, measurements, links.Values);
        profile?.Add(CostProfile.Phase.Completion, start);
        return measurements;
    }

    /// <summary>Tensors the engine holds between measurements (its <see cref="RowWorkspace"/>).</summary>
    public int HeldTensors => _rowWorkspace.Held;

    /// <summary>Releases the tensors kept between measurements; the layers' states are the caller's.</summary>
    public void Dispose() => _rowWorkspace.Dispose();

    /// <summary>Copies the results of <paramref name="buckets"/> to the host, with the upstream alignments of the
    /// layers on their devices (from the current vectors of <paramref name="all"/>): one transfer per device, into a
    /// host buffer rented from the shared pool (added to <paramref name="hostBuffers"/>): a fresh array of this size
    /// would be new memory on every measured step, and touching it for the first time costs more than the copy.</summary>
    private void ReadBack(List<Bucket> buckets, List<Bucket> all, UpstreamLinks links, List<double[]> hostBuffers)
    {
        var profile = Profile;
        long start = profile is null ? 0 : CostProfile.Now;
        links.Locate(all);
        foreach (var byDevice in buckets.GroupBy(b => b.Device.ToString()))
        {
            var members = byDevice.ToList();
            var flat = members.Select(b => b.Results!.flatten()).ToList();
            var alignments = links.Compute(members[0].Device);
            if (alignments is not null)
                flat.Add(alignments);
            var packed = flat.Count == 1 ? flat[0] : cat(flat, 0);
            double[] values = ArrayPool<double>.Shared.Rent((int)packed.numel());
            hostBuffers.Add(values);
            DeviceTransfer.CopyTo(packed, values);

            int offset = 0;
            foreach (var bucket in members)
            {
                bucket.SetHostResults(values, offset);
                offset += (int)bucket.Results!.numel();
            }

            links.Read(values, offset);
        }

        profile?.Add(CostProfile.Phase.Readback, start);
    }
}
