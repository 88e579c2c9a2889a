using Microsoft.Extensions.Logging;

namespace SpectralAlign.Telemetry;

/// <summary>Raises an event handler by handler, so one throwing subscriber neither breaks training nor starves the
/// others; every exception is logged.</summary>
internal static class EventRaiser
{
    public static void Raise<T>(EventHandler<T>? handlers, object sender, T args, ILogger logger, string eventName)
    {
        if (handlers is null)
            return;
        foreach (var handler in handlers.GetInvocationList())
        {
            try
            {
                ((EventHandler<T>)handler)(sender, args);
            }
#pragma warning disable CA1031 // A subscriber's exception must never reach the training loop.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                Log.HandlerFailed(logger, eventName, ex);
            }
        }
    }
}
