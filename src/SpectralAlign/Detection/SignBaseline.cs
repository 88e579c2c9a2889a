using System.Globalization;

namespace SpectralAlign.Detection;

/// <summary>
/// A layer's baseline of |mean SA| and sign diversity D (medians and robust spreads), and the score of a measurement
/// against it: max((|mean SA| − median) / max(sigmas·spread, minMeanShift), (median D − D) / max(sigmas·spread,
/// minDiversityDrop)), the diversity term only where the baseline is diverse enough to drop that far.
/// </summary>
internal sealed class SignBaseline
{
    private readonly double _meanMedian, _meanScale, _diversityMedian, _diversityScale;

    public SignBaseline(IEnumerable<double> absMeans, IEnumerable<double> diversities, SignBaselineSettings settings)
    {
        (_meanMedian, double meanSpread) = RobustStatistics.MedianAndSpread(absMeans);
        (_diversityMedian, double diversitySpread) = RobustStatistics.MedianAndSpread(diversities);
        _meanScale = Math.Max(settings.Sigmas * meanSpread, settings.MinMeanShift);
        _diversityScale = Math.Max(settings.Sigmas * diversitySpread, settings.MinDiversityDrop);
    }

    private bool JudgesDiversity => _diversityMedian - _diversityScale > 0;

    public double Score(SpectralAlignmentStats s)
    {
        double meanScore = (s.AbsMean - _meanMedian) / _meanScale;
        double diversityScore = JudgesDiversity ? (_diversityMedian - s.SignDiversity) / _diversityScale : double.NegativeInfinity;
        return Math.Max(meanScore, diversityScore);
    }

    public string Describe(SpectralAlignmentStats s, double score, double threshold)
    {
        string diversity = JudgesDiversity
            ? string.Create(CultureInfo.InvariantCulture, $"sign diversity {s.SignDiversity:0.000} (baseline {_diversityMedian:0.000}, threshold {_diversityMedian - threshold * _diversityScale:0.000})")
            : string.Create(CultureInfo.InvariantCulture, $"sign diversity {s.SignDiversity:0.000} (baseline {_diversityMedian:0.000}: too low or too variable to judge)");
        return string.Create(
            CultureInfo.InvariantCulture,
            $"|mean SA| {s.AbsMean:0.000} (baseline {_meanMedian:0.000}, threshold {_meanMedian + threshold * _meanScale:0.000}); {diversity}; score {score:0.00}");
    }
}

/// <summary>The settings a <see cref="SignBaseline"/> is scored with.</summary>
internal readonly record struct SignBaselineSettings(double Sigmas, double MinMeanShift, double MinDiversityDrop)
{
    public IEnumerable<string> Validate()
    {
        if (!(Sigmas >= 0) || double.IsInfinity(Sigmas))
            yield return $"Sigmas must be a finite number >= 0 (was {Sigmas}).";
        if (!(MinMeanShift > 0 && MinMeanShift <= 1))
            yield return $"MinMeanShift must be in (0, 1] (was {MinMeanShift}).";
        if (!(MinDiversityDrop > 0 && MinDiversityDrop <= 1))
            yield return $"MinDiversityDrop must be in (0, 1] (was {MinDiversityDrop}).";
    }
}
