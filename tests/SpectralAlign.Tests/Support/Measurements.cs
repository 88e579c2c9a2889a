using SpectralAlign.Detection;

namespace SpectralAlign.Tests.Support;

/// <summary>Hand-constructed measurements and replays for the detection tests (no torch).</summary>
internal static class Measurements
{
    /// <summary>A usable measurement of one layer with the given statistics.</summary>
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
        double upstream = double.NaN) => new()
        {
            Layer = layer,
            Step = step,
            Stats = Distribution(mean, diversity, count),
            SpectralNorm = sigma,
            FrobeniusNorm = frobenius,
            MaxAbsInput = maxAbs,
            Conditions = conditions,
            CenteredStats = centered ?? SpectralAlignmentStats.Empty,
            MaxInputRowNorm = maxRowNorm,
            UpdateRatio = updateRatio,
            UpstreamAlignment = upstream,
        };

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
}
