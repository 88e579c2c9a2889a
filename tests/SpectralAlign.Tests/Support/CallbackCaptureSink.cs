using SpectralAlign.Telemetry;

namespace SpectralAlign.Tests.Support;

/// <summary>A capture sink that hands each record to a callback (the record is valid only during the call).</summary>
internal sealed class CallbackCaptureSink(Action<CaptureRecord> onCapture) : ICaptureSink
{
    public void OnCapture(CaptureRecord record) => onCapture(record);
}
