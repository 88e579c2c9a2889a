namespace SpectralAlign.Spectral;

/// <summary>Stable seeds for the library's private random streams (string.GetHashCode is randomised per
/// process).</summary>
internal static class StableHash
{
    /// <summary>A stable 64-bit hash of a string (FNV-1a).</summary>
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
