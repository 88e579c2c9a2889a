namespace SpectralAlign.Scenarios.Data;

/// <summary>
/// Seeds of step-indexed data: the batch of step t of a stream with seed s is drawn from <c>new Random(For(s, t))</c>,
/// so any step's batch can be reproduced without replaying the stream (a run restored from a snapshot, a branch that
/// leaves its base run at a fork step).
/// </summary>
public static class StepSeeds
{
    /// <summary>A well-mixed 31-bit seed for (stream, step) (SplitMix64 finaliser over both).</summary>
    /// <param name="stream">The stream's seed.</param>
    /// <param name="step">The step.</param>
    /// <returns>A non-negative seed.</returns>
    public static int For(long stream, long step)
    {
        ulong z = unchecked(((ulong)stream * 0x9E3779B97F4A7C15UL) ^ ((ulong)step + 0x632BE59BD9B4E019UL));
        z = unchecked((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL);
        z = unchecked((z ^ (z >> 27)) * 0x94D049BB133111EBUL);
        z ^= z >> 31;
        return (int)(z & 0x7FFFFFFF);
    }
}
