namespace SpectralAlign.Hooks;

/// <summary>
/// Draws, on the host, exactly the first <c>take</c> entries that <c>torch.randperm(count, generator)</c> returns on
/// the CPU for a generator seeded with <c>manual_seed(seed)</c>, at a fraction of its cost: libtorch's CPU randperm
/// (for <c>count</c> below 2³²/20) is a forward Fisher–Yates shuffle driven by the generator's 32-bit MT19937 stream
/// (<c>z = random() % (count − i)</c>, swap entries i and i + z, for i = 0 … count − 2), so its first <c>take</c>
/// entries are final after the first <c>take</c> draws; randperm makes all count − 1 draws and a tensor of all
/// <c>count</c> indices. The result is a uniform sample without replacement, in randperm's order. A test holds it
/// to torch's own randperm. Not thread-safe across calls on one thread's scratch; each thread has its own.
/// </summary>
internal static class RowSampler
{
    /// <summary>Largest row count drawn on the host: below libtorch's small-n bound (2³²/20) and small enough that
    /// the per-thread scratch (4 bytes per row) stays modest.</summary>
    public const long MaxRows = 1 << 22;

    private const int StateSize = 624, Shift = 397;

    [ThreadStatic]
    private static uint[]? t_state;

    [ThreadStatic]
    private static int[]? t_positions;

    /// <summary>Writes the first <paramref name="into"/>.Length entries of randperm(<paramref name="count"/>) for a
    /// CPU generator seeded with <paramref name="seed"/> into <paramref name="into"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="count"/> is outside [1, <see cref="MaxRows"/>],
    /// or more entries are asked for than <paramref name="count"/>.</exception>
    public static void Draw(ulong seed, long count, Span<long> into)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(count, MaxRows);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(into.Length, count);
        int n = (int)count, take = into.Length;
        var state = t_state ??= new uint[StateSize];
        var positions = Positions(n);

        // MT19937 seeding (torch seeds it with the low 32 bits of the 64-bit seed).
        uint previous = state[0] = (uint)seed;
        for (uint j = 1; j < StateSize; j++)
            state[j] = previous = (1812433253u * (previous ^ (previous >> 30))) + j;

        // One draw per kept entry. The first block's twist is done entry by entry as the draws need it (entry k
        // reads the untwisted k + 1 and k + 397, or the already twisted k − 227 and, for the last, 0); later blocks
        // (take > 624) are twisted whole.
        int draws = Math.Min(take, n - 1);
        for (int i = 0; i < draws; i++)
        {
            int k = i % StateSize;
            if (i >= StateSize && k == 0)
                Twist(state);
            uint y = i < StateSize ? TwistOne(state, k) : state[k];
            y ^= y >> 11;
            y ^= (y << 7) & 0x9d2c5680u;
            y ^= (y << 15) & 0xefc60000u;
            y ^= y >> 18;
            int z = i + (int)(y % (uint)(n - i));
            (positions[i], positions[z]) = (positions[z], positions[i]);
            into[i] = positions[i];
        }

        if (draws < take)
            into[draws] = positions[draws];   // take == count: the last entry needs no draw

        // Back to the identity for the next call: every position the swaps touched is either < take or the original
        // place of a value now kept.
        for (int i = 0; i < take; i++)
        {
            int kept = (int)into[i];
            positions[kept] = kept;
            positions[i] = i;
        }
    }

    /// <summary>Twists state entry <paramref name="k"/> in place (MT19937's recurrence) and returns it.</summary>
    private static uint TwistOne(uint[] state, int k)
    {
        uint next = state[k + 1 < StateSize ? k + 1 : 0];
        uint mixed = (state[k] & 0x80000000u) | (next & 0x7fffffffu);
        return state[k] = state[k + Shift < StateSize ? k + Shift : k + Shift - StateSize] ^ (mixed >> 1) ^ ((next & 1u) != 0 ? 0x9908b0dfu : 0u);
    }

    private static void Twist(uint[] state)
    {
        for (int k = 0; k < StateSize; k++)
            TwistOne(state, k);
    }

    /// <summary>This thread's scratch permutation (the identity), at least <paramref name="count"/> long.</summary>
    private static int[] Positions(int count)
    {
        var positions = t_positions;
        if (positions is null || positions.Length < count)
        {
            positions = new int[Math.Max(count, Math.Min(2 * (positions?.Length ?? 0), (int)MaxRows))];
            for (int i = 0; i < positions.Length; i++)
                positions[i] = i;
            t_positions = positions;
        }

        return positions;
    }
}
