using SpectralAlign.Scenarios.Analysis;
using SpectralAlign.Scenarios.Evaluation;
using SpectralAlign.Scenarios.Recording;
using SpectralAlign.Tests.Support;

namespace SpectralAlign.Tests.Evaluation;

/// <summary>Synthetic recorded runs for the evaluation-by-horizon tests, built in memory.</summary>
internal static class HorizonRuns
{
    /// <summary>
    /// A run of <paramref name="steps"/> steps. The loss falls slowly from 3 and is NaN from
    /// <paramref name="explosionStep"/> on (so the ground truth puts E exactly there); two layers "a" and "b" are
    /// measured every <paramref name="interval"/> steps with |mean SA| = <paramref name="absMean"/>(t) and half of it.
    /// </summary>
    public static RunData Make(
        string family,
        string config,
        int seed,
        int steps,
        long? explosionStep = null,
        long? forkStep = null,
        Func<int, double>? gradNorm = null,
        Func<int, double>? absMean = null,
        int interval = 5,
        bool finished = true)
    {
        var stepRecords = new List<StepRecord>(steps);
        var a = new List<LayerMeasurement>();
        var b = new List<LayerMeasurement>();
        for (int t = 0; t < steps; t++)
        {
            double loss = explosionStep is { } e && t >= e ? double.NaN : 3.0 - t / (10.0 * steps);
            stepRecords.Add(new StepRecord { Step = t, Loss = loss, GradNorm = gradNorm?.Invoke(t) ?? 1.0, Lr = 1e-3 });
            if (t % interval != 0)
                continue;
            double mean = absMean?.Invoke(t) ?? 0.1;
            a.Add(Measurements.Bare("a", t, stats: new SpectralAlignmentStats { Count = 64, Mean = mean }));
            b.Add(Measurements.Bare("b", t, stats: new SpectralAlignmentStats { Count = 64, Mean = -mean / 2 }));
        }

        return new RunData
        {
            Header = new RunHeader
            {
                Scenario = family,
                Config = config,
                Seed = seed,
                Settings = new Dictionary<string, string>(),
                Monitor = new Dictionary<string, string>(),
                GroundTruth = new Dictionary<string, double>(),
                ForkStep = forkStep,
                Layers = [new WatchedLayerInfo("a", 8, 8), new WatchedLayerInfo("b", 8, 8)],
            },
            Steps = stepRecords,
            Measurements = new Dictionary<string, IReadOnlyList<LayerMeasurement>>(StringComparer.Ordinal) { ["a"] = a, ["b"] = b },
            Alerts = [],
            Summary = finished ? new RunSummary { Scenario = family, Config = config, Seed = seed, StepsRun = steps, StepsPlanned = steps, StopReason = "completed" } : null,
        };
    }

    /// <summary>An <see cref="EvaluationRun"/> with steps 0 … count − 1.</summary>
    public static EvaluationRun Facts(string family, int seed, int count, long? explosionStep = null, long? forkStep = null, long firstStep = 0) => new()
    {
        Family = family,
        Name = $"{family}.s{seed}",
        Seed = seed,
        ExplosionStep = explosionStep,
        ForkStep = forkStep,
        Steps = Enumerable.Range(0, count).Select(i => firstStep + i).ToArray(),
    };
}
