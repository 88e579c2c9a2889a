namespace SpectralAlign.Scenarios.Analysis;

/// <summary>Reads a folder of run records and writes the tables of FINDINGS.md.</summary>
public static class SuiteAnalysis
{
    /// <summary>The report for all runs in a folder.</summary>
    /// <param name="runsDirectory">The folder.</param>
    /// <returns>Markdown.</returns>
    public static string Report(string runsDirectory) => $"TODO {runsDirectory}\n";
}
