using static TorchSharp.torch;

namespace SpectralAlign.Spectral;

/// <summary>Which layers the engine measures as one padded stack (a <see cref="Bucket"/>).</summary>
internal static class Bucketing
{
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
    /// <returns>Indices into <paramref name="layers"/>, one array per bucket.</returns>
    public static List<int[]> Buckets(IReadOnlyList<LayerInput> layers, int subspaceDimension)
    {
        var buckets = new List<int[]>();
        var classes = Enumerable.Range(0, layers.Count).GroupBy(i =>
        {
            var layer = layers[i];
            return (layer.Groups, layer.InFeatures, K: Math.Min(subspaceDimension, layer.InFeatures),
                DeviceType: layer.Weight.device_type, DeviceIndex: layer.Weight.device_index);
        });
        foreach (var cls in classes)
        {
            var shapes = cls.GroupBy(i => layers[i].OutFeatures).OrderBy(g => g.Key);
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
}
