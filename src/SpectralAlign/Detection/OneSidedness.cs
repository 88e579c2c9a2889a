namespace SpectralAlign.Detection;

/// <summary>The paper's one-sidedness score of an SA distribution against fixed thresholds:
/// max(|mean SA| / meanThreshold, (1 − D) / (1 − diversityThreshold)), ≥ 1 when either threshold is crossed.</summary>
internal static class OneSidedness
{
    public static double Score(SpectralAlignmentStats stats, double meanThreshold, double diversityThreshold) =>
        Math.Max(stats.AbsMean / meanThreshold, (1 - stats.SignDiversity) / (1 - diversityThreshold));

    public static IEnumerable<string> Validate(double meanThreshold, double diversityThreshold)
    {
        if (!(meanThreshold > 0 && meanThreshold <= 1))
            yield return $"MeanThreshold must be in (0, 1] (was {meanThreshold}).";
        if (!(diversityThreshold >= 0 && diversityThreshold < 1))
            yield return $"DiversityThreshold must be in [0, 1) (was {diversityThreshold}).";
    }
}
