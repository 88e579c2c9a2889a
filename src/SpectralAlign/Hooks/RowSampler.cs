namespace SpectralAlign.Hooks;

/// <summary>
/// Uniform samples of row indices without replacement, from private seeded streams (never from torch's global
/// generator, so monitoring cannot change a training run's random numbers). A stream is derived from (seed, layer,
/// step), so the sample of a step does not depend on history: a run resumed from a checkpoint draws the same rows.
/// </summary>
internal static class RowSampler
{
    /// <summary>A stream for one layer and step.</summary>
    public static Random Stream(int seed, string layer, long step) =>
        new(unchecked((int)Mix((ulong)(uint)seed, Fnv1a(layer), (ulong)step)));

    /// <summary>Returns <paramref name="take"/> distinct indices from [0, <paramref name="count"/>), ascending.</summary>
    public static long[] Sample(Random random, long count, int take)
    {
        if (take >= count)
        {
            var all = new long[count];
            for (long i = 0; i < count; i++)
                all[i] = i;
            return all;
        }

        // Robert Floyd's algorithm: O(take) draws, every subset equally likely.
        var chosen = new HashSet<long>(take);
        for (long j = count - take; j < count; j++)
        {
            long t = random.NextInt64(j + 1);
            chosen.Add(chosen.Contains(t) ? j : t);
        }

        var result = chosen.ToArray();
        Array.Sort(result);
        return result;
    }

    /// <summary>A stable 64-bit hash of a string (FNV-1a); string.GetHashCode is randomised per process.</summary>
    public static ulong Fnv1a(string text)
    {
        ulong hash = 14695981039346656037UL;
        foreach (char c in text)
        {
            hash ^= c;
            hash *= 1099511628211UL;
        }

        return hash;
    }

    /// <summary>A 64-bit mix of three values (splitmix64 finaliser).</summary>
    public static ulong Mix(ulong a, ulong b, ulong c)
    {
        ulong h = (a * 0x9E3779B97F4A7C15UL) ^ b;
        h = ((h ^ (h >> 31)) * 0xBF58476D1CE4E5B9UL) ^ c;
        h = (h ^ (h >> 27)) * 0x94D049BB133111EBUL;
        return h ^ (h >> 31);
    }
}
