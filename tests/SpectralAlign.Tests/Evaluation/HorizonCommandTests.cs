using SpectralAlign.Scenarios.Evaluation;
using SpectralAlign.Scenarios.Recording;
using SpectralAlign.Tests.Support;

namespace SpectralAlign.Tests.Evaluation;

public sealed class HorizonCommandTests
{
    private static readonly HorizonEvaluationSettings Settings = new() { Horizons = [50], Resamples = 100 };

    [Fact]
    public void Run_AbsolutePaths_RefusedBecauseTheReportNamesThem()
    {
        using var dir = new TempDirectory();
        var ex = Assert.Throws<ArgumentException>(() => HorizonCommand.Run([dir.Path], Settings, "report.md", "cmd"));
        Assert.Contains($"'{dir.Path}' is absolute", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Run_MissingDirectoryAndNoRecords_ClearErrors()
    {
        var missing = Assert.Throws<ArgumentException>(() => HorizonCommand.Run(["no-such-runs-dir"], Settings, null, "cmd"));
        Assert.Contains("Directory 'no-such-runs-dir' does not exist.", missing.Message, StringComparison.Ordinal);
        using var dir = new TempDirectory();
        string relative = Path.GetRelativePath(Environment.CurrentDirectory, dir.Path);
        var empty = Assert.Throws<ArgumentException>(() => HorizonCommand.Run([relative], Settings, null, "cmd"));
        Assert.Contains("No *.jsonl run records", empty.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Run_RecordsOnDisk_WritesTheReportNamingTheCommand()
    {
        using var dir = new TempDirectory();
        foreach (var family in new[] { "one", "two" })
        {
            for (int seed = 1; seed <= 2; seed++)
            {
                foreach (var run in new[] { HorizonRuns.Make(family, "stable", seed, 300), HorizonRuns.Make(family, "exploding", seed, 300, explosionStep: 250) })
                {
                    using var recorder = new RunRecorder(dir.File(RunRecords.RecordFileName(family, run.Header.Config, seed)));
                    recorder.Write(run.Header);
                    foreach (var step in run.Steps)
                    {
                        recorder.Write(step);
                        foreach (var list in run.Measurements.Values)
                        {
                            foreach (var m in list.Where(m => m.Step == step.Step))
                                recorder.Write(m);
                        }
                    }

                    recorder.Write(run.Summary!);
                }
            }
        }

        string runs = Path.GetRelativePath(Environment.CurrentDirectory, dir.Path);
        string output = Path.GetRelativePath(Environment.CurrentDirectory, dir.File("horizon.md"));
        string report = HorizonCommand.Run([runs], Settings, output, $"horizon --runs {runs}");

        Assert.Equal(report, File.ReadAllText(dir.File("horizon.md")));
        Assert.Contains($"Command: `horizon --runs {runs}`", report, StringComparison.Ordinal);
        Assert.Contains("| one | 4 | 0 | 2 | 2 | 0 | 1200 | 600 | 100 |", report, StringComparison.Ordinal);
        // The records' folder appears only as the relative path of the command.
        Assert.DoesNotContain(Path.GetFileName(dir.Path), report.Replace(runs, "", StringComparison.Ordinal), StringComparison.Ordinal);
    }
}
