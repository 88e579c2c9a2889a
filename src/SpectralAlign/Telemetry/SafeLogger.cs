using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace SpectralAlign.Telemetry;

/// <summary>
/// The user's logger as the library calls it: a logger (or logging provider) that throws is a user plug-in like a
/// sink or an event handler, so its exceptions are swallowed here instead of reaching <c>Step()</c>, <c>Watch()</c>
/// or the training loop. Nothing else changes: levels, event ids, state and scopes pass through as they are.
/// </summary>
internal sealed class SafeLogger : ILogger
{
    private readonly ILogger _inner;

    private SafeLogger(ILogger inner) => _inner = inner;

    /// <summary>The logger to use for <paramref name="logger"/>: <see cref="NullLogger.Instance"/> for none.</summary>
    public static ILogger Wrap(ILogger? logger) => logger switch
    {
        null or NullLogger => NullLogger.Instance,
        SafeLogger safe => safe,
        _ => new SafeLogger(logger),
    };

#pragma warning disable CA1031 // A failing logger must never stop training (see the class summary).
    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull
    {
        try
        {
            return _inner.BeginScope(state);
        }
        catch (Exception)
        {
            return null;
        }
    }

    public bool IsEnabled(LogLevel logLevel)
    {
        try
        {
            return _inner.IsEnabled(logLevel);
        }
        catch (Exception)
        {
            return false;
        }
    }

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        try
        {
            _inner.Log(logLevel, eventId, state, exception, formatter);
        }
        catch (Exception)
        {
            // Dropped: there is nowhere safe left to report it.
        }
    }
#pragma warning restore CA1031
}
