namespace SpectralAlign.Hooks;

/// <summary>A small, fast, reseedable pseudo-random stream (splitmix64) for row sampling; not thread-safe.</summary>
internal sealed class RowStream(ulong seed)
{
    private ulong _state = seed;

    /// <summary>Restarts the stream from <paramref name="seed"/>.</summary>
    public void Reset(ulong seed) => _state = seed;

    /// <summary>The next 64 random bits.</summary>
    public ulong Next()
    {
        ulong z = _state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>Uniform in [0, 1) with 53 random bits.</summary>
    public double NextDouble() => (Next() >> 11) * (1.0 / (1UL << 53));

    /// <summary>Uniform in [0, <paramref name="bound"/>) without modulo bias (rejection of the short last block).</summary>
    public long NextInt64(long bound)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(bound);
        ulong b = (ulong)bound;
        ulong limit = ulong.MaxValue - (ulong.MaxValue % b);
        ulong x;
        do
        {
            x = Next();
        }
        while (x >= limit);
        return (long)(x % b);
    }
}
