namespace SpectralAlign.Spectral;

/// <summary>Which layers the engine measures as one stack (a <see cref="Bucket"/>).</summary>
internal static class Bucketing
{
    /// <summary>
    /// Splits the layers into buckets processed as one stack: all layers that share (groups G, input width n,
    /// subspace dimension k, device), ordered by output width m so that equal widths form the runs of
    /// <see cref="WeightRuns"/>. The products with the weights run per run without zero padding, and everything else
    /// (of size k, n or rows) is batched over the bucket, so e.g. a transformer's q/k/v/o, FFN gate/up and LM head,
    /// all reading d-wide inputs, cost the small tensor operations of one layer, whatever their output widths.
    /// </summary>
    /// <returns>Indices into <paramref name="layers"/>, one array per bucket.</returns>
    public static List<int[]> Buckets(IReadOnlyList<LayerInput> layers, int subspaceDimension) =>
        [.. Enumerable.Range(0, layers.Count)
            .GroupBy(i =>
            {
                var layer = layers[i];
                return (layer.Groups, layer.InFeatures, K: Math.Min(subspaceDimension, layer.InFeatures),
                    DeviceType: layer.Weight.device_type, DeviceIndex: layer.Weight.device_index);
            })
            .Select(cls => cls.OrderBy(i => layers[i].OutFeatures).ToArray())];
}
