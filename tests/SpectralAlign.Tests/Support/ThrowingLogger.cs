using Microsoft.Extensions.Logging;

namespace SpectralAlign.Tests.Support;

/// <summary>A logger whose every call throws (after counting it): a user's broken logger.</summary>
internal sealed class ThrowingLogger : ILogger
{
    public int Calls { get; private set; }

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => throw new InvalidOperationException("logger bug");

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        Calls++;
        throw new InvalidOperationException("logger bug");
    }
}
