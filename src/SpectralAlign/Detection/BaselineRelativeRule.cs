using System.Globalization;
using System.Text.Json.Nodes;
using MathNet.Numerics.Statistics;

namespace SpectralAlign.Detection;

/// <summary>
/// The default rule: judges each layer against its own baseline instead of fixed thresholds.
/// </summary>
/// <remarks>
/// <para>
/// Healthy layers are not always balanced: query projections, FFN gates, LM heads and layers fed by non-centred
/// inputs (e.g. after a ReLU) often have a one-sided SA distribution from early training on and keep it. So after the
/// warm-up this rule learns, from the next <see cref="BaselineMeasurements"/> usable measurements, the median and the
/// robust spread (1.4826·MAD) of |mean SA| and of the sign diversity D. A measurement is anomalous when
/// </para>
/// <list type="bullet">
/// <item>|mean SA| ≥ baseline median + max(<see cref="Sigmas"/>·spread, <see cref="MinMeanShift"/>), or</item>
/// <item>D ≤ baseline median − max(<see cref="Sigmas"/>·spread, <see cref="MinDiversityDrop"/>)</item>
/// </list>
/// <para>
/// i.e. the distribution has become markedly more one-sided than it normally is for this layer. The absolute
/// floors keep a layer whose baseline is nearly constant from alerting on tiny changes. The baseline is frozen once
/// learnt so that a slow collapse is not absorbed into it.
/// </para>
/// </remarks>
public sealed class BaselineRelativeRule : IDetectionRule
{
    /// <summary>Usable measurements (after the warm-up) that form the baseline. Default <c>20</c>.</summary>
    public int BaselineMeasurements { get; set; } = 20;

    /// <summary>Robust standard deviations a statistic must move beyond its baseline. Default <c>6</c>.</summary>
    public double Sigmas { get; set; } = 6;

    /// <summary>Smallest rise of |mean SA| above its baseline median that counts. Default <c>0.1</c>.</summary>
    public double MinMeanShift { get; set; } = 0.1;

    /// <summary>Smallest drop of the sign diversity below its baseline median that counts. Default <c>0.25</c>.</summary>
    public double MinDiversityDrop { get; set; } = 0.25;

    /// <inheritdoc />
    public string Reason => AlertReasons.SignCollapse;

    /// <inheritdoc />
    public ILayerDetector CreateDetector(string layer) => new Detector(this);

    /// <inheritdoc />
    public IEnumerable<string> Validate()
    {
        if (BaselineMeasurements < 2)
            yield return $"BaselineMeasurements must be >= 2 (was {BaselineMeasurements}).";
        if (!(Sigmas >= 0) || double.IsInfinity(Sigmas))
            yield return $"Sigmas must be a finite number >= 0 (was {Sigmas}).";
        if (!(MinMeanShift > 0 && MinMeanShift <= 1))
            yield return $"MinMeanShift must be in (0, 1] (was {MinMeanShift}).";
        if (!(MinDiversityDrop > 0 && MinDiversityDrop <= 1))
            yield return $"MinDiversityDrop must be in (0, 1] (was {MinDiversityDrop}).";
    }

    private sealed class Detector(BaselineRelativeRule rule) : IPersistentDetector
    {
        private readonly int _baselineSize = rule.BaselineMeasurements;
        private readonly double _sigmas = rule.Sigmas;
        private readonly double _minShift = rule.MinMeanShift;
        private readonly double _minDrop = rule.MinDiversityDrop;
        private readonly List<double> _absMeans = [];
        private readonly List<double> _diversities = [];
        private double _meanMedian, _meanThreshold, _diversityMedian, _diversityThreshold;
        private bool _ready;

        public DetectorVerdict Observe(LayerMeasurement measurement)
        {
            double absMean = measurement.Stats.AbsMean;
            double diversity = measurement.Stats.SignDiversity;
            if (!_ready)
            {
                _absMeans.Add(absMean);
                _diversities.Add(diversity);
                if (_absMeans.Count < _baselineSize)
                    return DetectorVerdict.Warming;

                LearnBaseline();
                return DetectorVerdict.Warming;
            }

            bool meanRose = absMean >= _meanThreshold;
            bool diversityFell = diversity <= _diversityThreshold;
            if (!meanRose && !diversityFell)
                return DetectorVerdict.Normal;

            string diversityPart = _diversityThreshold > 0
                ? string.Create(CultureInfo.InvariantCulture, $"sign diversity {diversity:0.000} (baseline {_diversityMedian:0.000}, threshold {_diversityThreshold:0.000})")
                : string.Create(CultureInfo.InvariantCulture, $"sign diversity {diversity:0.000} (baseline {_diversityMedian:0.000}: too low or too variable to judge)");
            return DetectorVerdict.Anomalous(string.Create(
                CultureInfo.InvariantCulture,
                $"|mean SA| {absMean:0.000} (baseline {_meanMedian:0.000}, threshold {_meanThreshold:0.000}); {diversityPart}"));
        }

        public JsonNode SaveState() => new JsonObject
        {
            ["absMeans"] = new JsonArray(_absMeans.Select(v => (JsonNode)v).ToArray()),
            ["diversities"] = new JsonArray(_diversities.Select(v => (JsonNode)v).ToArray()),
        };

        public void LoadState(JsonNode state)
        {
            _absMeans.Clear();
            _diversities.Clear();
            _absMeans.AddRange(state["absMeans"]!.AsArray().Select(v => v!.GetValue<double>()));
            _diversities.AddRange(state["diversities"]!.AsArray().Select(v => v!.GetValue<double>()));
            _ready = false;
            if (_absMeans.Count >= _baselineSize)
                LearnBaseline();
        }

        private void LearnBaseline()
        {
            (_meanMedian, double meanSpread) = MedianAndSpread(_absMeans);
            (_diversityMedian, double diversitySpread) = MedianAndSpread(_diversities);
            _meanThreshold = _meanMedian + Math.Max(_sigmas * meanSpread, _minShift);
            _diversityThreshold = _diversityMedian - Math.Max(_sigmas * diversitySpread, _minDrop);
            _ready = true;
        }

        private static (double Median, double Spread) MedianAndSpread(List<double> values)
        {
            double median = values.Median();
            double mad = values.Select(v => Math.Abs(v - median)).Median();
            return (median, 1.4826 * mad);
        }
    }
}
