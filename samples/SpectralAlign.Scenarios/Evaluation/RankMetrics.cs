namespace SpectralAlign.Scenarios.Evaluation;

/// <summary>
/// Threshold-free ranking metrics of a score against positive/negative labels: AUROC and average precision.
/// </summary>
/// <remarks>
/// <para>
/// A missing score (NaN: the detector has no opinion yet, e.g. in its warm-up) ranks below every real score and ties
/// with the other missing ones, i.e. "no opinion" is treated as "no warning". Dropping those steps instead would let a
/// detector improve its numbers by abstaining.
/// </para>
/// <para>
/// <b>AUROC</b> in the Mann–Whitney form: the probability that a random positive scores above a random negative, ties
/// counting one half, AUROC = Σ_{p,n} ([s_p &gt; s_n] + ½[s_p = s_n]) / (P·N). Undefined (NaN) without positives or
/// without negatives.
/// </para>
/// <para>
/// <b>AUPRC</b> as average precision (the definition of scikit-learn's <c>average_precision_score</c>): with the
/// distinct scores as thresholds in decreasing order and "positive" meaning score ≥ threshold, AP = Σ_k (R_k − R_{k−1})
/// · P_k, where R_k and P_k are the recall and precision at the k-th threshold and R_0 = 0; tied scores enter
/// together at one threshold (no interpolation). Its value for a score without information is the share of
/// positives. Undefined (NaN) without positives.
/// </para>
/// </remarks>
public static class RankMetrics
{
    /// <summary>AUROC (Mann–Whitney, ties count ½).</summary>
    /// <param name="scores">Scores (NaN = no opinion).</param>
    /// <param name="positive">Labels, same length.</param>
    /// <returns>AUROC in [0, 1], or NaN without positives or negatives.</returns>
    public static double Auroc(IReadOnlyList<double> scores, IReadOnlyList<bool> positive)
    {
        var (pos, neg) = Group(scores, positive);
        return Auroc(pos, neg);
    }

    /// <summary>Average precision (see the remarks).</summary>
    /// <param name="scores">Scores (NaN = no opinion).</param>
    /// <param name="positive">Labels, same length.</param>
    /// <returns>AP in (0, 1], or NaN without positives.</returns>
    public static double AveragePrecision(IReadOnlyList<double> scores, IReadOnlyList<bool> positive)
    {
        var (pos, neg) = Group(scores, positive);
        return AveragePrecision(pos, neg);
    }

    /// <summary>AUROC from counts per tie group.</summary>
    /// <param name="pos">Positives per group, groups in increasing score order.</param>
    /// <param name="neg">Negatives per group, same groups.</param>
    /// <returns>AUROC, or NaN without positives or negatives.</returns>
    public static double Auroc(ReadOnlySpan<long> pos, ReadOnlySpan<long> neg)
    {
        double p = 0, n = 0, wins = 0;
        for (int g = 0; g < pos.Length; g++)
        {
            wins += pos[g] * (n + 0.5 * neg[g]);
            p += pos[g];
            n += neg[g];
        }

        return p == 0 || n == 0 ? double.NaN : wins / (p * n);
    }

    /// <summary>Average precision from counts per tie group.</summary>
    /// <param name="pos">Positives per group, groups in increasing score order.</param>
    /// <param name="neg">Negatives per group, same groups.</param>
    /// <returns>AP, or NaN without positives.</returns>
    public static double AveragePrecision(ReadOnlySpan<long> pos, ReadOnlySpan<long> neg)
    {
        double p = 0;
        foreach (long c in pos)
            p += c;
        if (p == 0)
            return double.NaN;
        double tp = 0, fp = 0, ap = 0;
        for (int g = pos.Length - 1; g >= 0; g--)
        {
            tp += pos[g];
            fp += neg[g];
            if (pos[g] > 0)
                ap += pos[g] / p * (tp / (tp + fp));
        }

        return ap;
    }

    /// <summary>The rank key of a score: NaN (no opinion) becomes −∞.</summary>
    /// <param name="score">The score.</param>
    /// <returns>The key.</returns>
    public static double Key(double score) => double.IsNaN(score) ? double.NegativeInfinity : score;

    /// <summary>Sorts scores and numbers their tie groups.</summary>
    /// <param name="scores">Scores (NaN = no opinion).</param>
    /// <param name="groupCount">The number of distinct rank keys.</param>
    /// <returns>The tie group (0 = lowest) of each score.</returns>
    public static int[] TieGroups(IReadOnlyList<double> scores, out int groupCount)
    {
        ArgumentNullException.ThrowIfNull(scores);
        var keys = new double[scores.Count];
        var order = new int[scores.Count];
        for (int i = 0; i < keys.Length; i++)
        {
            keys[i] = Key(scores[i]);
            order[i] = i;
        }

        Array.Sort(keys, order);
        var groups = new int[keys.Length];
        int g = -1;
        for (int i = 0; i < keys.Length; i++)
        {
            if (i == 0 || keys[i] != keys[i - 1])
                g++;
            groups[order[i]] = g;
        }

        groupCount = g + 1;
        return groups;
    }

    private static (long[] Pos, long[] Neg) Group(IReadOnlyList<double> scores, IReadOnlyList<bool> positive)
    {
        ArgumentNullException.ThrowIfNull(scores);
        ArgumentNullException.ThrowIfNull(positive);
        if (scores.Count != positive.Count)
            throw new ArgumentException($"{scores.Count} scores but {positive.Count} labels.", nameof(positive));
        var groups = TieGroups(scores, out int count);
        var pos = new long[count];
        var neg = new long[count];
        for (int i = 0; i < groups.Length; i++)
        {
            if (positive[i])
                pos[groups[i]]++;
            else
                neg[groups[i]]++;
        }

        return (pos, neg);
    }
}
