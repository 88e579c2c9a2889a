using static TorchSharp.torch;

namespace SpectralAlign.Spectral;

/// <summary>
/// The upstream alignments of one <see cref="SpectralEngine.Measure"/> call (see
/// <see cref="LayerMeasurement.UpstreamAlignment"/>): for every layer with a usable <see cref="LayerInput.Upstream"/>,
/// |cos(u1 of the upstream group g, v1 of the layer's group g)| for each group g, the largest over groups. Computed
/// on the layer's device from the buckets' current vectors and appended to that device's read-back, so it costs no
/// transfer of its own. A link is usable when both layers have the same number of groups and the upstream's output
/// width equals the layer's input width; otherwise, and when either weight has no defined v1 (not finite, zero), the
/// value is NaN. Recomputed at every read-back that includes the layer's device, so the values are those of the
/// final vectors (for a link across two devices: of the last read-back on the layer's device).
/// </summary>
internal sealed class UpstreamLinks
{
    private readonly IReadOnlyList<LayerInput> _layers;
    private readonly int[] _linked;
    private readonly (Bucket Bucket, int Member)[] _location;
    private int[] _computed = [];

    /// <exception cref="ArgumentException">An upstream index is not another layer of the call.</exception>
    public UpstreamLinks(IReadOnlyList<LayerInput> layers)
    {
        _layers = layers;
        _location = new (Bucket, int)[layers.Count];
        Values = new double[layers.Count];
        Array.Fill(Values, double.NaN);
        var linked = new List<int>();
        for (int i = 0; i < layers.Count; i++)
        {
            int up = layers[i].Upstream;
            if (up == -1)
                continue;
            if (up < 0 || up >= layers.Count || up == i)
                throw new ArgumentException($"Layer '{layers[i].Name}': the upstream index {up} is not another layer of the call (0..{layers.Count - 1}).", nameof(layers));
            if (layers[up].Groups == layers[i].Groups && layers[up].OutFeatures == layers[i].InFeatures)
                linked.Add(i);
        }

        _linked = [.. linked];
    }

    /// <summary>Per layer of the call: its upstream alignment (NaN without a usable link), final after
    /// <see cref="Finish"/>.</summary>
    public double[] Values { get; }

    /// <summary>Notes in which bucket each layer is measured (call after buckets are made or replaced).</summary>
    public void Locate(IEnumerable<Bucket> buckets)
    {
        foreach (var bucket in buckets)
        {
            for (int j = 0; j < bucket.Size; j++)
                _location[bucket.Members[j]] = (bucket, j);
        }
    }

    /// <summary>The alignments of the linked layers measured on <paramref name="device"/>, (P) float64 on that
    /// device, or <c>null</c> when there are none; <see cref="Read"/> takes their host values.</summary>
    public Tensor? Compute(Device device)
    {
        string key = device.ToString();
        _computed = Array.FindAll(_linked, i => _location[i].Bucket.Device.ToString() == key);
        if (_computed.Length == 0)
            return null;
        var values = new List<Tensor>(_computed.Length);
        foreach (int i in _computed)
        {
            var (up, upMember) = _location[_layers[i].Upstream];
            var (down, downMember) = _location[i];
            var u = up.TopVectors(upMember).U.to(ScalarType.Float64).to(device);
            var v = down.TopVectors(downMember).V.to(ScalarType.Float64);
            var norms = linalg.norm(u, [1], false) * linalg.norm(v, [1], false);
            // 0/0 (a zero vector) is NaN, and amax propagates NaN: a degenerate group makes the value NaN.
            values.Add((u * v).sum([1]).abs().div(norms).clamp_max(Scalars.One).amax([0]));
        }

        return stack(values, 0);
    }

    /// <summary>Takes the host values of the last <see cref="Compute"/> from <paramref name="values"/> at
    /// <paramref name="offset"/>.</summary>
    public void Read(double[] values, int offset)
    {
        for (int p = 0; p < _computed.Length; p++)
            Values[_computed[p]] = values[offset + p];
    }

    /// <summary>After the last read-back: NaN where either layer's vectors are not defined.</summary>
    public void Finish()
    {
        foreach (int i in _linked)
        {
            var (up, upMember) = _location[_layers[i].Upstream];
            var (down, downMember) = _location[i];
            if (!up.VectorsDefined(upMember) || !down.VectorsDefined(downMember))
                Values[i] = double.NaN;
        }
    }
}
