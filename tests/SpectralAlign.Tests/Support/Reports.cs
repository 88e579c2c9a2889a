using SpectralAlign.Telemetry;

namespace SpectralAlign.Tests.Support;

/// <summary>Hand-made step reports and alerts with known values (measurements from <see cref="Measurements.Complete"/>),
/// for sink tests that need no torch.</summary>
internal static class Reports
{
    public static CollapseAlert Alert(LayerMeasurement m, string reason = AlertReasons.SignCollapse) => new()
    {
        Layer = m.Layer,
        Step = m.Step,
        Stats = m.Stats,
        Reason = reason,
        Detail = "|mean SA| 0.41 ≥ 0.30",
        EpisodeStartStep = m.Step - 20,
        Measurement = m,
    };

    /// <summary>Steps 0, 10, …: layers "a" and "b"; "b" alerts at <paramref name="alertStep"/>.</summary>
    public static IEnumerable<StepReport> Run(int measuredSteps, long alertStep = -1)
    {
        for (int i = 0; i < measuredSteps; i++)
        {
            long step = i * 10L;
            var a = Measurements.Complete("a", step, mean: 0.01 * i, diversity: 0.9);
            var b = Measurements.Complete("blocks.0/b", step, mean: -0.02 * i, diversity: Math.Max(0, 0.8 - 0.05 * i), conditions: i == 0 ? MeasurementConditions.ColdStart : MeasurementConditions.None);
            yield return new StepReport
            {
                Step = step,
                Measurements = [a, b],
                Alerts = step == alertStep ? [Alert(b)] : [],
            };
        }
    }
}
