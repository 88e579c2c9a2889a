using SpectralAlign.Scenarios.Analysis;
using SpectralAlign.Scenarios.Evaluation;
using SpectralAlign.Scenarios.Recording;

namespace SpectralAlign.Tests.Evaluation;

public sealed class HorizonRecordsTests
{
    private static RunData Run(string version, double cpu, double wall)
    {
        var run = HorizonRuns.Make("f", "c", 1, steps: 10);
        return new RunData
        {
            Header = run.Header with { Monitor = new Dictionary<string, string> { ["version"] = version } },
            Steps = run.Steps,
            Measurements = run.Measurements,
            Alerts = [],
            Summary = run.Summary! with { CpuSeconds = cpu, WallSeconds = wall },
        };
    }

    [Fact]
    public void Describe_OneVersion_SaysSoAndSumsTheCosts()
    {
        string text = HorizonRecords.Describe([Run("0.1.0+abc", 30, 60), Run("0.1.0+abc", 90, 120)]);

        Assert.Contains("one monitor version for all records: `0.1.0+abc` (2 runs)", text, StringComparison.Ordinal);
        Assert.Contains("2.0 min of processor time, 3.0 min of wall time", text, StringComparison.Ordinal);
    }

    [Fact]
    public void Describe_TwoVersions_FlagsTheRecordsAsNotComparable()
    {
        string text = HorizonRecords.Describe([Run("0.1.0+abc", 1, 1), Run("0.1.0+def", 1, 1), Run("0.1.0+def", 1, 1)]);

        Assert.Contains("more than one monitor version", text, StringComparison.Ordinal);
        Assert.Contains("`0.1.0+def` (2 runs), `0.1.0+abc` (1 runs)", text, StringComparison.Ordinal);
    }
}
