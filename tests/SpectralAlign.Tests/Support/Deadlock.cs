namespace SpectralAlign.Tests.Support;

/// <summary>Runs a test body that could deadlock (threads that wait for one another inside the monitor's calls) so
/// that a deadlock fails the test instead of hanging the suite.</summary>
internal static class Deadlock
{
    /// <summary>How long one thread of such a test waits for another: far above any real wait.</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    /// <summary>Runs <paramref name="body"/> on a thread-pool thread and returns its result; fails when it has not
    /// finished after twice <see cref="Timeout"/>.</summary>
    public static async Task<T> Within<T>(Func<T> body)
    {
        var run = Task.Run(body);
        if (await Task.WhenAny(run, Task.Delay(Timeout * 2)) != run)
            throw new Xunit.Sdk.XunitException($"Not finished after {Timeout * 2}: deadlock.");
        return await run;
    }
}
