namespace SpectralAlign.Scenarios.Rescue;

/// <summary>
/// The steps at which the placebo arm intervenes: <c>count</c> distinct steps drawn uniformly from [from, to) with at
/// least <c>gap</c> steps between consecutive ones (so that the guard's cooldown never swallows one), from a generator
/// seeded by the run. The draw: k sorted distinct values yᵢ from [0, n − (k − 1)(gap − 1)) with n = to − from, then
/// xᵢ = from + yᵢ + i·(gap − 1) — uniform over all admissible sets.
/// </summary>
public static class PlaceboSchedule
{
    /// <summary>Draws the schedule.</summary>
    /// <param name="count">Interventions (≥ 0).</param>
    /// <param name="from">First admissible step.</param>
    /// <param name="to">One past the last admissible step.</param>
    /// <param name="gap">Minimum distance between consecutive steps (≥ 1).</param>
    /// <param name="seed">The generator's seed.</param>
    /// <returns>The steps, ascending.</returns>
    /// <exception cref="ArgumentOutOfRangeException">A negative count, a gap below 1, or more steps than fit.</exception>
    public static long[] Draw(int count, long from, long to, int gap, int seed)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        ArgumentOutOfRangeException.ThrowIfLessThan(gap, 1);
        if (count == 0)
            return [];
        long free = to - from - (long)(count - 1) * (gap - 1);
        if (free < count)
            throw new ArgumentOutOfRangeException(nameof(count), count, FormattableString.Invariant($"{count} steps {gap} apart do not fit in [{from}, {to})."));
        var random = new Random(seed);
        var chosen = new SortedSet<long>();
        while (chosen.Count < count)
            chosen.Add(random.NextInt64(free));
        return chosen.Select((y, i) => from + y + (long)i * (gap - 1)).ToArray();
    }
}
