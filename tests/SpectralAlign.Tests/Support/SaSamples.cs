namespace SpectralAlign.Tests.Support;

/// <summary>
/// Seeded SA value sets in [−1, 1] for the host statistics: random spreads and the degenerate shapes that break
/// selection and bucketing (all equal, few distinct values, values at the ±1e-6 zero tolerance and ±0, ±1, already
/// ascending or descending, a tight cluster beside one outlier, a spread of a few denormals).
/// </summary>
internal static class SaSamples
{
    public static readonly int[] Sizes = [1, 2, 3, 5, 255, 256, 257];

    public static readonly string[] Kinds = ["uniform", "cluster", "outlier", "equal", "ties", "tolerance", "ascending", "descending", "denormal"];

    /// <summary>(kind, n, seed) for every kind and size, three seeds each.</summary>
    public static TheoryData<string, int, int> Cases()
    {
        var data = new TheoryData<string, int, int>();
        foreach (var kind in Kinds)
        {
            foreach (int n in Sizes)
            {
                for (int seed = 0; seed < 3; seed++)
                    data.Add(kind, n, seed);
            }
        }

        return data;
    }

    public static double[] Values(string kind, int n, int seed)
    {
        var random = new Random((seed * 1000) + n + (kind.Length * 7919));
        double Uniform() => (random.NextDouble() * 2) - 1;
        double Gaussian() => Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
        double[] tolerance = [-1e-6, Math.BitDecrement(-1e-6), Math.BitIncrement(-1e-6), 1e-6, Math.BitIncrement(1e-6), Math.BitDecrement(1e-6), 0.0, -0.0, 1, -1];
        double[] ties = [-1, -0.5, -0.25, 0, 0.25, 0.5, 1];
        var values = new double[n];
        for (int i = 0; i < n; i++)
        {
            values[i] = kind switch
            {
                "uniform" or "ascending" or "descending" => Uniform(),
                "cluster" => Math.Clamp(0.97 + (0.01 * Gaussian()), -1, 1),
                "outlier" => i == n / 2 ? -1 : 0.5 + (1e-9 * Uniform()),
                "equal" => 0.3,
                "ties" => ties[random.Next(ties.Length)],
                "tolerance" => tolerance[random.Next(tolerance.Length)],
                "denormal" => random.Next(4) * double.Epsilon,
                _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "unknown kind"),
            };
        }

        if (kind == "ascending") Array.Sort(values);
        if (kind == "descending") Array.Sort(values, (a, b) => b.CompareTo(a));
        return values;
    }
}
