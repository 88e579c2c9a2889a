using SpectralAlign.Detection;

namespace SpectralAlign.Tests.Support;

/// <summary>
/// The one place tests build <see cref="LayerMeasurement"/> values by hand (no torch): usable measurements for the
/// detection tests, complete ones for sinks and reports, bare ones for recorded runs; and replays through a detector.
/// </summary>
internal static class Measurements
{
    /// <summary>A usable measurement of one layer with the given statistics (<paramref name="stats"/>, when given,
    /// replaces the distribution built from <paramref name="mean"/>, <paramref name="diversity"/> and
    /// <paramref name="count"/>).</summary>
    public static LayerMeasurement M(
        long step,
        double mean = 0.05,
        double diversity = 0.9,
        double sigma = 1,
        double frobenius = 3,
        double maxAbs = 1,
        string layer = "l",
        int count = 256,
        MeasurementConditions conditions = MeasurementConditions.None,
        SpectralAlignmentStats? centered = null,
        double maxRowNorm = 1,
        double updateRatio = double.NaN,
        double upstream = double.NaN,
        SpectralAlignmentStats? stats = null,
        double sigma2 = 0,
        double residual = 0,
        int iterations = 0,
        double meanAlignment = 0,
        long inputRows = 0) => new()
        {
            Layer = layer,
            Step = step,
            Stats = stats ?? Distribution(mean, diversity, count),
            SpectralNorm = sigma,
            SecondSingularValue = sigma2,
            FrobeniusNorm = frobenius,
            Residual = residual,
            Iterations = iterations,
            InputMeanAlignment = meanAlignment,
            MaxAbsInput = maxAbs,
            InputRows = inputRows,
            Conditions = conditions,
            CenteredStats = centered ?? SpectralAlignmentStats.Empty,
            MaxInputRowNorm = maxRowNorm,
            UpdateRatio = updateRatio,
            UpstreamAlignment = upstream,
        };

    /// <summary>Only a layer, a step and conditions (plus what is given): empty statistics and every number zero
    /// (the ratios NaN), as a recorded run or an unmeasurable layer has them.</summary>
    public static LayerMeasurement Bare(
        string layer,
        long step,
        MeasurementConditions conditions = MeasurementConditions.None,
        SpectralAlignmentStats? stats = null,
        double sigma = 0,
        double frobenius = 0,
        double maxAbs = 0,
        double upstream = double.NaN) =>
        M(step, layer: layer, conditions: conditions, stats: stats ?? SpectralAlignmentStats.Empty, sigma: sigma, frobenius: frobenius, maxAbs: maxAbs, maxRowNorm: 0, upstream: upstream);

    /// <summary>Every field set to a known value that differs between fields (what sinks write and reports show);
    /// σ1, the largest row norm and the upstream alignment drift with the step, layer "a" has no upstream layer.</summary>
    public static LayerMeasurement Complete(string layer, long step, double mean, double diversity, int[]? histogram = null, MeasurementConditions conditions = MeasurementConditions.None) =>
        M(
            step,
            layer: layer,
            conditions: conditions,
            stats: new SpectralAlignmentStats
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
            sigma: 3.5 + step * 0.01,
            sigma2: 1.75,
            frobenius: 5.25,
            residual: 1e-5,
            iterations: 2,
            meanAlignment: 0.375,
            maxAbs: 12.5,
            inputRows: 512,
            maxRowNorm: 7.5 + step * 0.01,
            updateRatio: step == 0 ? double.NaN : 1e-3,
            upstream: layer == "a" ? double.NaN : 0.625 + step * 1e-3);

    /// <summary>An SA distribution of <paramref name="count"/> rows with the given mean and sign diversity.</summary>
    public static SpectralAlignmentStats Distribution(double mean, double diversity, int count = 256) =>
        new() { Count = count, Mean = mean, SignDiversity = diversity, PositiveFraction = diversity / 2 };

    /// <summary>Options that judge from step 0 with the given rules.</summary>
    public static DetectionOptions Only(params DetectionRule[] rules) => new() { WarmupSteps = 0, ConsecutiveMeasurements = 1, Rules = rules };

    /// <summary>Feeds measurements one by one and collects the alerts.</summary>
    public static List<CollapseAlert> Feed(CollapseDetector detector, IEnumerable<LayerMeasurement> series) => [.. series.SelectMany(detector.Observe)];

    /// <summary>Feeds one run signal per step (gradient norm or loss) and collects the alerts.</summary>
    public static List<CollapseAlert> FeedSignals(CollapseDetector detector, IEnumerable<TrainingSignals> signals) =>
        [.. signals.SelectMany((s, step) => detector.ObserveSignals(step, s))];

    /// <summary>The scores a rule gives a layer's series, step by step (null while warming).</summary>
    public static List<double?> Scores(DetectionRule rule, IEnumerable<LayerMeasurement> series)
    {
        var detector = new CollapseDetector(Only(rule));
        return [.. series.Select(m =>
        {
            detector.Observe(m);
            return detector.LastScores.Count == 0 ? (double?)null : detector.LastScores[0].Score;
        })];
    }

    /// <summary>The scores a run rule gives a series of signals, step by step (null while warming).</summary>
    public static List<double?> Scores(DetectionRule rule, IEnumerable<TrainingSignals> signals)
    {
        var detector = new CollapseDetector(Only(rule));
        return [.. signals.Select((s, step) =>
        {
            detector.ObserveSignals(step, s);
            return detector.LastScores.Count == 0 ? (double?)null : detector.LastScores[0].Score;
        })];
    }

    /// <summary>Asserts that two measurements agree in every public property, bit for bit (doubles by
    /// <see cref="double.Equals(double)"/>, so NaN equals NaN; statistics and histograms element by element).</summary>
    public static void AssertIdentical(LayerMeasurement expected, LayerMeasurement actual) => AssertSameProperties(expected, actual, $"{expected.Layer}@{expected.Step}");

    /// <summary>Asserts that two measurements agree in every public property: doubles to within
    /// <paramref name="tolerance"/> · max(1, |expected|) (NaN equals NaN), everything else (counts, histograms,
    /// conditions, names) exactly.</summary>
    /// <param name="expected">The reference measurement.</param>
    /// <param name="actual">The measurement checked.</param>
    /// <param name="tolerance">The relative tolerance of doubles.</param>
    /// <param name="looser">Properties (of the measurement) with a tolerance of their own.</param>
    public static void AssertClose(LayerMeasurement expected, LayerMeasurement actual, double tolerance, IReadOnlyDictionary<string, double>? looser = null) =>
        AssertSameProperties(expected, actual, $"{expected.Layer}@{expected.Step}", tolerance, looser);

    private static void AssertSameProperties(object expected, object actual, string path, double tolerance = 0, IReadOnlyDictionary<string, double>? looser = null)
    {
        foreach (var property in expected.GetType().GetProperties(System.Reflection.BindingFlags.Instance | System.Reflection.BindingFlags.Public).Where(p => p.GetIndexParameters().Length == 0))
        {
            object? a = property.GetValue(expected), b = property.GetValue(actual);
            string where = $"{path}.{property.Name}";
            if (a is SpectralAlignmentStats statsA && b is SpectralAlignmentStats statsB)
                AssertSameProperties(statsA, statsB, where, tolerance);
            else if (tolerance > 0 && a is double x && b is double y)
            {
                double allowed = looser is not null && looser.TryGetValue(property.Name, out var own) ? own : tolerance;
                Assert.True(x.Equals(y) || Math.Abs(x - y) <= allowed * Math.Max(1, Math.Abs(x)), $"{where}: {x:R} vs {y:R}");
            }
            else if (a is IReadOnlyList<int> listA && b is IReadOnlyList<int> listB)
                Assert.True(listA.SequenceEqual(listB), $"{where}: [{string.Join(", ", listA)}] vs [{string.Join(", ", listB)}]");
            else
                Assert.True(Equals(a, b), $"{where}: {a} vs {b}");
        }
    }
}
