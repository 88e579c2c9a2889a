using SpectralAlign.Scenarios.Evaluation;

namespace SpectralAlign.Tests.Evaluation;

public sealed class RankMetricsTests
{
    // 3 positives and 4 negatives with ties across the classes (0.5 appears twice among positives, once among negatives).
    private static readonly double[] Scores = [0.9, 0.5, 0.5, 0.7, 0.5, 0.2, 0.1];
    private static readonly bool[] Positive = [true, true, true, false, false, false, false];

    [Fact]
    public void Auroc_HandComputedExampleWithTies_IsNineTwelfths()
    {
        // By hand, over the 12 positive–negative pairs: 0.9 beats all 4 negatives (4); each 0.5 beats 0.2 and 0.1
        // and ties with the negative 0.5 (2.5 each, 5 together): 9 / 12.
        Assert.Equal(0.75, RankMetrics.Auroc(Scores, Positive), 12);
    }

    [Fact]
    public void AveragePrecision_HandComputedExampleWithTies_IsElevenFifteenths()
    {
        // Thresholds from high to low: 0.9 → TP 1, FP 0: recall 1/3 at precision 1 (adds 1/3); 0.7 → a negative only
        // (recall unchanged, adds 0); 0.5 → TP 3, FP 2 together: recall 1 at precision 3/5 (adds 2/3 · 3/5 = 2/5).
        Assert.Equal(1.0 / 3 + 2.0 / 5, RankMetrics.AveragePrecision(Scores, Positive), 12);
    }

    [Fact]
    public void Metrics_NoPositives_AreUndefined()
    {
        Assert.True(double.IsNaN(RankMetrics.Auroc([0.1, 0.2], [false, false])));
        Assert.True(double.IsNaN(RankMetrics.AveragePrecision([0.1, 0.2], [false, false])));
    }

    [Fact]
    public void Metrics_NoNegatives_AurocUndefined_AveragePrecisionOne()
    {
        Assert.True(double.IsNaN(RankMetrics.Auroc([0.1, 0.2], [true, true])));
        Assert.Equal(1.0, RankMetrics.AveragePrecision([0.1, 0.2], [true, true]), 12);
    }

    [Theory]
    [InlineData(0.5)]
    [InlineData(double.NaN)]
    public void Metrics_AllTied_AurocOneHalf_AveragePrecisionIsTheShareOfPositives(double score)
    {
        var scores = Enumerable.Repeat(score, 7).ToArray();
        Assert.Equal(0.5, RankMetrics.Auroc(scores, Positive), 12);
        Assert.Equal(3.0 / 7, RankMetrics.AveragePrecision(scores, Positive), 12);
    }

    [Fact]
    public void Auroc_MissingScore_RanksBelowEveryScore()
    {
        // A step without a score ranks below any finite score and ties with −∞.
        Assert.Equal(0.0, RankMetrics.Auroc([double.NaN, 0.1], [true, false]), 12);
        Assert.Equal(1.0, RankMetrics.Auroc([-5, double.NaN], [true, false]), 12);
        Assert.Equal(0.5, RankMetrics.Auroc([double.NaN, double.NegativeInfinity], [true, false]), 12);
    }

    [Theory]
    [InlineData(1, 40)]
    [InlineData(2, 200)]
    [InlineData(3, 500)]
    public void Metrics_RandomScoresWithManyTies_MatchBruteForceDefinitions(int seed, int n)
    {
        var random = new Random(seed);
        var scores = Enumerable.Range(0, n).Select(_ => random.Next(5) == 0 ? double.NaN : random.Next(12) / 4.0).ToArray();
        var positive = Enumerable.Range(0, n).Select(_ => random.Next(3) == 0).ToArray();
        positive[0] = true;
        positive[1] = false;

        // AUROC: every pair, NaN lowest.
        double Key(double s) => double.IsNaN(s) ? double.NegativeInfinity : s;
        double wins = 0, pairs = 0;
        for (int i = 0; i < n; i++)
        {
            for (int j = 0; j < n; j++)
            {
                if (!positive[i] || positive[j])
                    continue;
                pairs++;
                wins += Key(scores[i]) > Key(scores[j]) ? 1 : Key(scores[i]) == Key(scores[j]) ? 0.5 : 0;
            }
        }

        Assert.Equal(wins / pairs, RankMetrics.Auroc(scores, positive), 12);

        // AP: precision and recall recomputed from scratch at every distinct threshold.
        int p = positive.Count(x => x);
        double ap = 0, previousRecall = 0;
        foreach (double threshold in scores.Select(Key).Distinct().OrderDescending())
        {
            int tp = Enumerable.Range(0, n).Count(i => positive[i] && Key(scores[i]) >= threshold);
            int predicted = scores.Count(s => Key(s) >= threshold);
            double recall = (double)tp / p;
            ap += (recall - previousRecall) * tp / predicted;
            previousRecall = recall;
        }

        Assert.Equal(ap, RankMetrics.AveragePrecision(scores, positive), 12);
    }

    [Fact]
    public void Auroc_DifferentLengths_Throws() =>
        Assert.Throws<ArgumentException>(() => RankMetrics.Auroc([1.0, 2.0], [true]));
}
