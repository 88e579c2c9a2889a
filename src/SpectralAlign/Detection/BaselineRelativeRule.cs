using System.Globalization;
using System.Text.Json.Nodes;
using MathNet.Numerics.Statistics;

namespace SpectralAlign.Detection;

/// <summary>
/// The default rule: judges each layer's SA distribution against the layer's own baseline instead of fixed
/// thresholds.
/// </summary>
/// <remarks>
/// <para>
/// Healthy layers are not always balanced: query projections, FFN gates, LM heads and layers fed by non-centred
/// inputs (e.g. after a ReLU) often have a one-sided SA distribution from early training on and keep it. So after the
/// warm-up this rule learns, from the next <see cref="BaselineMeasurements"/> usable measurements, the median and the
/// robust spread (1.4826·MAD) of |mean SA| and of the sign diversity D, and scores each later measurement as
/// </para>
/// <para>max( (|mean SA| − median) / max(<see cref="Sigmas"/>·spread, <see cref="MinMeanShift"/>),
/// (median D − D) / max(<see cref="Sigmas"/>·spread, <see cref="MinDiversityDrop"/>) )</para>
/// <para>
/// (the diversity term only where the baseline is diverse enough to drop that far). A score ≥ 1 (the default
/// <see cref="ScoredLayerRule.Threshold"/>) means the distribution has become markedly more one-sided than it
/// normally is for this layer. The baseline is frozen once learnt so that a slow collapse is not absorbed into it.
/// </para>
/// </remarks>
public sealed class BaselineRelativeRule : ScoredLayerRule
{
    /// <summary>Usable measurements (after the warm-up) that form the baseline. Default <c>20</c>.</summary>
    public int BaselineMeasurements { get; set; } = 20;

    /// <summary>Robust standard deviations a statistic must move beyond its baseline. Default <c>6</c>.</summary>
    public double Sigmas { get; set; } = 6;

    /// <summary>Smallest rise of |mean SA| above its baseline median that counts. Default <c>0.4</c>: in the scenario
    /// suite healthy layers drifted by up to ≈ 0.3 from their early baseline (see the README).</summary>
    public double MinMeanShift { get; set; } = 0.4;

    /// <summary>Smallest drop of the sign diversity below its baseline median that counts. Default <c>1</c>, which
    /// turns the diversity criterion off unless the baseline is perfectly balanced: in the scenario suite healthy
    /// layers lost their sign diversity during normal training (D 0.95 → 0.15 within ~150 steps).</summary>
    public double MinDiversityDrop { get; set; } = 1;

    /// <summary>Score at or above which a measurement is anomalous. Default <c>1</c>.</summary>
    public override double Threshold { get; set; } = 1;

    /// <inheritdoc />
    public override string Reason => AlertReasons.SignCollapse;

    /// <inheritdoc />
    public override ILayerScorer CreateScorer(string layer) => new Scorer(this);

    /// <inheritdoc />
    public override IEnumerable<string> Validate()
    {
        foreach (var problem in base.Validate())
            yield return problem;
        if (BaselineMeasurements < 2)
            yield return $"BaselineMeasurements must be >= 2 (was {BaselineMeasurements}).";
        if (!(Sigmas >= 0) || double.IsInfinity(Sigmas))
            yield return $"Sigmas must be a finite number >= 0 (was {Sigmas}).";
        if (!(MinMeanShift > 0 && MinMeanShift <= 1))
            yield return $"MinMeanShift must be in (0, 1] (was {MinMeanShift}).";
        if (!(MinDiversityDrop > 0 && MinDiversityDrop <= 1))
            yield return $"MinDiversityDrop must be in (0, 1] (was {MinDiversityDrop}).";
    }

    private sealed class Scorer(BaselineRelativeRule rule) : ILayerScorer, IPersistentScorer
    {
        private readonly List<double> _absMeans = [];
        private readonly List<double> _diversities = [];
        private double _meanMedian, _meanScale, _diversityMedian, _diversityScale;
        private bool _ready;

        public double? Score(LayerMeasurement measurement)
        {
            double absMean = measurement.Stats.AbsMean;
            double diversity = measurement.Stats.SignDiversity;
            if (!_ready)
            {
                _absMeans.Add(absMean);
                _diversities.Add(diversity);
                if (_absMeans.Count >= rule.BaselineMeasurements)
                    Learn();
                return null;
            }

            double meanScore = (absMean - _meanMedian) / _meanScale;
            double diversityScore = _diversityMedian - _diversityScale > 0 ? (_diversityMedian - diversity) / _diversityScale : double.NegativeInfinity;
            return Math.Max(meanScore, diversityScore);
        }

        public string Describe(LayerMeasurement measurement, double score, double threshold)
        {
            var s = measurement.Stats;
            string diversity = _diversityMedian - _diversityScale > 0
                ? string.Create(CultureInfo.InvariantCulture, $"sign diversity {s.SignDiversity:0.000} (baseline {_diversityMedian:0.000}, threshold {_diversityMedian - threshold * _diversityScale:0.000})")
                : string.Create(CultureInfo.InvariantCulture, $"sign diversity {s.SignDiversity:0.000} (baseline {_diversityMedian:0.000}: too low or too variable to judge)");
            return string.Create(
                CultureInfo.InvariantCulture,
                $"|mean SA| {s.AbsMean:0.000} (baseline {_meanMedian:0.000}, threshold {_meanMedian + threshold * _meanScale:0.000}); {diversity}; score {score:0.00}");
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
            if (_absMeans.Count >= rule.BaselineMeasurements)
                Learn();
        }

        private void Learn()
        {
            (_meanMedian, double meanSpread) = MedianAndSpread(_absMeans);
            (_diversityMedian, double diversitySpread) = MedianAndSpread(_diversities);
            _meanScale = Math.Max(rule.Sigmas * meanSpread, rule.MinMeanShift);
            _diversityScale = Math.Max(rule.Sigmas * diversitySpread, rule.MinDiversityDrop);
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
