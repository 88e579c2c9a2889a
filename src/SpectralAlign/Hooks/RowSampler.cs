using SpectralAlign.Spectral;

namespace SpectralAlign.Hooks;

/// <summary>
/// Uniform samples of row indices without replacement, from private seeded streams (never from torch's global
/// generator, so monitoring cannot change a training run's random numbers). A stream is derived from (seed, layer,
/// step), so the sample of a step does not depend on history: a run resumed from a checkpoint draws the same rows.
/// Sampling allocates nothing: callers pass the destination (and, for sparse samples, a reusable set).
/// </summary>
internal static class RowSampler
{
    /// <summary>A stream for one layer and step.</summary>
    public static RowStream Stream(int seed, string layer, long step) => new(StreamSeed(seed, StableHash.Fnv1a(layer), step));

    /// <summary>The seed of the stream of (seed, hashed layer name, step).</summary>
    public static ulong StreamSeed(int seed, ulong layerHash, long step) => StableHash.Mix((ulong)(uint)seed, layerHash, (ulong)step);

    /// <summary>Returns <paramref name="take"/> distinct indices from [0, <paramref name="count"/>), ascending.</summary>
    public static long[] Sample(RowStream random, long count, int take)
    {
        var result = new long[Math.Min(count, take)];
        Sample(random, count, result, []);
        return result;
    }

    /// <summary>
    /// Fills <paramref name="destination"/> with distinct indices from [0, <paramref name="count"/>), ascending, every
    /// subset of that size equally likely. Dense samples (count ≤ 16 × size) use selection sampling (Knuth's
    /// Algorithm S, one draw per candidate, output already sorted); sparse ones Robert Floyd's algorithm (one draw per
    /// chosen index) with <paramref name="scratch"/> as its set, then a sort.
    /// </summary>
    public static void Sample(RowStream random, long count, Span<long> destination, HashSet<long> scratch)
    {
        ArgumentNullException.ThrowIfNull(random);
        ArgumentNullException.ThrowIfNull(scratch);
        int take = destination.Length;
        ArgumentOutOfRangeException.ThrowIfGreaterThan(take, count);
        if (take == count)
        {
            for (int i = 0; i < take; i++)
                destination[i] = i;
            return;
        }

        if (count <= 16L * take)
        {
            int chosen = 0;
            for (long i = 0; chosen < take; i++)
            {
                // Choose candidate i with probability (still needed) / (candidates left).
                if ((count - i) * random.NextDouble() < take - chosen)
                    destination[chosen++] = i;
            }

            return;
        }

        scratch.Clear();
        for (long j = count - take; j < count; j++)
        {
            long t = random.NextInt64(j + 1);
            scratch.Add(scratch.Contains(t) ? j : t);
        }

        int k = 0;
        foreach (long index in scratch)
            destination[k++] = index;
        destination.Sort();
    }
}
