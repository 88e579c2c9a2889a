using Microsoft.Extensions.Logging;
using SpectralAlign.Detection;

namespace SpectralAlign.Telemetry;

/// <summary>
/// Reports each step <see cref="OfflineAnalyzer"/> analysed as the monitor's <see cref="StepPublisher"/> reports a
/// measured step: the rule faults, measurements and alerts to the log, then the step to every sink. Each sink runs in
/// its own try/catch: one that throws is logged (event id 12) and skipped, and the analysis goes on. The logger must
/// already be wrapped (<see cref="SafeLogger"/>), so that a throwing logger cannot stop the analysis either.
/// </summary>
internal static class OfflinePublisher
{
    public static void Publish(StepReport report, IReadOnlyList<RuleFault> faults, IReadOnlyList<ISpectralSink> sinks, ILogger logger)
    {
        foreach (var fault in faults)
            Log.RuleFailed(logger, fault.Reason, fault.Subject, fault.Step, fault.Exception);
        foreach (var m in report.Measurements)
        {
            if ((m.Conditions & MeasurementConditions.NotConverged) != 0)
                Log.NotConverged(logger, m.Layer, m.Step, m.Iterations, m.Residual);
            Log.Measured(logger, m);
        }

        foreach (var alert in report.Alerts)
        {
            if (alert.Reason == AlertReasons.NonFinite)
                Log.NonFinite(logger, alert.Layer, alert.Step, alert.Detail);
            else
                Log.CollapseDetected(logger, alert.Reason, alert.Layer, alert.Step, alert.EpisodeStartStep, alert.Detail);
        }

        foreach (var sink in sinks)
        {
            try
            {
                sink.OnStep(report);
            }
#pragma warning disable CA1031 // A user's sink must not stop the analysis (as it must not stop training).
            catch (Exception ex)
#pragma warning restore CA1031
            {
                Log.SinkFailed(logger, sink.GetType().Name, report.Step, ex);
            }
        }
    }
}
