namespace SpectralAlign.Hooks;

/// <summary>
/// Draws uniform samples of row indices without replacement from a private, seeded stream (never from torch's
/// global generator, so monitoring cannot change a training run's random numbers).
/// </summary>
internal sealed class RowSampler(int seed)
{
    private readonly Random _random = new(seed);

    /// <summary>Returns <paramref name="take"/> distinct indices from [0, <paramref name="count"/>), ascending.</summary>
    public long[] Sample(long count, int take)
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
            long t = _random.NextInt64(j + 1);
            chosen.Add(chosen.Contains(t) ? j : t);
        }

        var result = chosen.ToArray();
        Array.Sort(result);
        return result;
    }
}
