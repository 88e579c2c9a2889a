using SpectralAlign.Telemetry;

namespace SpectralAlign.Tests.Support;

/// <summary>Hand-made measurements and step reports with known values, for sink tests that need no torch.</summary>
internal static class Reports
{
    public static LayerMeasurement Measurement(string layer, long step, double mean, double diversity, int[]? histogram = null, MeasurementConditions conditions = MeasurementConditions.None) => new()
    {
        Layer = layer,
        Step = step,
        Stats = new SpectralAlignmentStats
        {
            Count = histogram?.Sum() ?? 64,
            ZeroRows = 1,
            NonFiniteRows = 2,
            Mean = mean,
            StdDev = 0.125 + step * 1e-4,
            PositiveFraction = 1 - diversity / 2,
            SignDiversity = diversity,
            Min = -0.75,
            P05 = -0.5,
            P25 = -0.25,
            Median = mean,
            P75 = 0.25,
            P95 = 0.5,
            Max = 0.875,
            Histogram = histogram ?? [0, 4, 8, 16, 16, 12, 6, 2],
        },
        SpectralNorm = 3.5 + step * 0.01,
        SecondSingularValue = 1.75,
        FrobeniusNorm = 5.25,
        Residual = 1e-5,
        Iterations = 2,
        InputMeanAlignment = 0.375,
        MaxAbsInput = 12.5,
        InputRows = 512,
        MaxInputRowNorm = 7.5 + step * 0.01,
        UpdateRatio = step == 0 ? double.NaN : 1e-3,
        UpstreamAlignment = layer == "a" ? double.NaN : 0.625 + step * 1e-3,
        Conditions = conditions,
    };

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
            var a = Measurement("a", step, mean: 0.01 * i, diversity: 0.9);
            var b = Measurement("blocks.0/b", step, mean: -0.02 * i, diversity: Math.Max(0, 0.8 - 0.05 * i), conditions: i == 0 ? MeasurementConditions.ColdStart : MeasurementConditions.None);
            yield return new StepReport
            {
                Step = step,
                Measurements = [a, b],
                Alerts = step == alertStep ? [Alert(b)] : [],
            };
        }
    }
}
