namespace SpectralAlign.Spectral;

/// <summary>Column layout of the per-layer result rows the device computes and the host reads back in one copy.</summary>
internal static class ResultColumns
{
    public const int PresentRows = 0;
    public const int Count = 1;
    public const int ZeroRows = 2;
    public const int NonFiniteRows = 3;
    public const int Mean = 4;
    public const int StdDev = 5;
    public const int PositiveFraction = 6;
    public const int Min = 7;
    public const int P05 = 8;
    public const int P25 = 9;
    public const int Median = 10;
    public const int P75 = 11;
    public const int P95 = 12;
    public const int Max = 13;
    public const int InputMeanAlignment = 14;
    public const int MaxAbsInput = 15;

    /// <summary>Number of columns produced by <see cref="AlignmentStatistics"/> before the histogram.</summary>
    public const int StatisticsWidth = 16;

    public const int Sigma1 = 16;
    public const int Sigma2 = 17;
    public const int Frobenius = 18;
    public const int Residual = 19;
    public const int WeightFinite = 20;
    public const int VectorFinite = 21;
    public const int HistogramStart = 22;

    /// <summary>Quantile levels of columns <see cref="Min"/> … <see cref="Max"/>.</summary>
    public static readonly float[] QuantileLevels = [0f, 0.05f, 0.25f, 0.5f, 0.75f, 0.95f, 1f];

    public static int Width(int histogramBins) => HistogramStart + histogramBins;
}
