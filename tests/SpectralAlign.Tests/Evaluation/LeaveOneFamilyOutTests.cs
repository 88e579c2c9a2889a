using SpectralAlign.Scenarios.Analysis;
using SpectralAlign.Scenarios.Evaluation;

namespace SpectralAlign.Tests.Evaluation;

public sealed class LeaveOneFamilyOutTests
{
    private const int Steps = 400, E = 350, Rise = 80;
    private static readonly string[] Families = ["A", "B", "C"];

    /// <summary>Per family, seeds 1 and 2, each with a stable run and a run exploding at step 350.</summary>
    private static List<RunData> Runs() =>
        [.. from f in Families from seed in new[] { 1, 2 } from config in new[] { "stable", "exploding" }
            select HorizonRuns.Make(f, config, seed, Steps, explosionStep: config == "exploding" ? E : null)];

    private static bool Exploding(RunData run) => run.Header.Config == "exploding";

    /// <summary>1 from 80 steps before E in the exploding runs of the given families, 0 elsewhere.</summary>
    private static DetectorSetting RisesIn(string name, params string[] families) => new(name, run => new ScoreSeries(
        run.Steps.Select(s => Exploding(run) && families.Contains(run.Header.Scenario) && s.Step >= E - Rise ? 1.0 : 0.0).ToArray()));

    private static readonly HorizonEvaluationSettings Settings = new() { Horizons = [100], Resamples = 200 };

    [Fact]
    public void Evaluate_SettingChoice_IsMadeOnTheOtherFamiliesOnly()
    {
        // Q rises only in C, P only in A and B. Left out C: on A and B, P warns 4/4 and Q 0/4, so P is chosen — and
        // reported on C, where it sees nothing. Left out A: on B and C each warns 2/4 with the same mean AUROC
        // ((0.9 + 0.5) / 2), so the first listed, Q, is chosen.
        var detector = new HorizonDetector("planted", "SA", [RisesIn("Q", "C"), RisesIn("P", "A", "B")]);
        var result = LeaveOneFamilyOut.Evaluate(Runs(), [detector], Settings);

        var c = result.Cell(100, "planted", "C");
        Assert.Equal("P", c.Setting);
        Assert.Equal(1.0, c.TuningWarnedShare);
        Assert.Equal(0.5, c.Auroc.Value, 12);
        Assert.Equal((0, 2), (c.Warned, c.Explosions));

        var a = result.Cell(100, "planted", "A");
        Assert.Equal("Q", a.Setting);
        Assert.Equal(0.5, a.TuningWarnedShare);
        Assert.Equal(0.7, a.TuningAuroc, 12);

        // Left out B: on A and C, P warns 2/4 and Q 2/4 too; Q again by order.
        Assert.Equal("Q", result.Cell(100, "planted", "B").Setting);
    }

    [Fact]
    public void Evaluate_Threshold_IsTunedOnTheOtherFamiliesHealthySteps()
    {
        // Stable runs sit at a family's own level (A 0.3, B 0.5, C 0.7); exploding runs are 0 and jump to 2 at E − 80.
        // Budget 0.1 per 1,000 over 1,600 healthy steps allows no alarm, so θ is just above the tuning families'
        // highest healthy level: left out A → above C's 0.7; left out C → above B's 0.5, which C's own stable runs
        // (0.7) cross: two false alarms in C's 800 healthy steps.
        var level = new Dictionary<string, double> { ["A"] = 0.3, ["B"] = 0.5, ["C"] = 0.7 };
        var detector = new HorizonDetector("levels", "baseline", [new("only", run => new ScoreSeries(run.Steps
            .Select(s => Exploding(run) ? (s.Step >= E - Rise ? 2.0 : 0.0) : level[run.Header.Scenario]).ToArray()))]);
        var result = LeaveOneFamilyOut.Evaluate(Runs(), [detector], Settings);

        Assert.Equal(Math.BitIncrement(0.7), result.Cell(100, "levels", "A").Threshold);
        Assert.Equal(Math.BitIncrement(0.7), result.Cell(100, "levels", "B").Threshold);
        var c = result.Cell(100, "levels", "C");
        Assert.Equal(Math.BitIncrement(0.5), c.Threshold);
        Assert.Equal(0, c.TuningFalseAlarmsPer1k);
        Assert.Equal(2, c.FalseAlarms);
        Assert.Equal(800, c.HealthySteps);
        Assert.Equal(2.5, c.FalseAlarmsPer1k.Value, 12);
        Assert.Equal((2, 2), (c.Warned, c.Explosions));
        Assert.Equal(Rise, c.MedianLead.Value);
    }

    [Fact]
    public void Evaluate_OwnAlarms_AreUsedAsTheyAre()
    {
        // The detector's own alarm: on from E − 30 in exploding runs, and once at step 10 in stable runs of B.
        var detector = new HorizonDetector("rule", "SA", [new("own", run => new ScoreSeries(
            new double[run.Steps.Count],
            run.Steps.Select(s => Exploding(run) ? s.Step >= E - 30 : run.Header.Scenario == "B" && s.Step == 10).ToArray()))]);
        var result = LeaveOneFamilyOut.Evaluate(Runs(), [detector], Settings);
        var b = result.Cell(100, "rule", "B");
        Assert.True(b.OwnAlarms);
        Assert.True(double.IsNaN(b.Threshold));
        Assert.Equal(2, b.FalseAlarms);
        Assert.Equal((2, 2), (b.Warned, b.Explosions));
        Assert.Equal(30, b.MedianLead.Value);
        Assert.Equal(0, result.Cell(100, "rule", "A").FalseAlarms);
    }

    [Fact]
    public void Evaluate_DetectorReturnsWrongLength_ThrowsNamingDetectorAndRun()
    {
        var detector = new HorizonDetector("short", "SA", [new("s", run => new ScoreSeries(new double[3]))]);
        var ex = Assert.Throws<InvalidOperationException>(() => LeaveOneFamilyOut.Evaluate(Runs(), [detector], Settings));
        Assert.Contains("'short' (s) returned 3 scores for run A.stable.s1, which has 400 steps", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Evaluate_DetectorThrows_WrappedWithDetectorAndRun()
    {
        var detector = new HorizonDetector("broken", "SA", [new("s", _ => throw new InvalidDataException("no field x"))]);
        var ex = Assert.Throws<InvalidOperationException>(() => LeaveOneFamilyOut.Evaluate(Runs(), [detector], Settings));
        Assert.Equal("Detector 'broken' (s) failed on run A.stable.s1: no field x", ex.Message);
    }

    [Fact]
    public void Evaluate_UnfinishedRuns_LeftOutAndCounted()
    {
        var runs = Runs();
        runs.Add(HorizonRuns.Make("B", "stable", 3, 200, finished: false));
        var result = LeaveOneFamilyOut.Evaluate(runs, [new HorizonDetector("d", "SA", [RisesIn("P", "A", "B")])], Settings);
        var b = result.Families.Single(f => f.Family == "B");
        Assert.Equal((4, 1, 2), (b.Runs, b.Unfinished, b.Seeds));
        Assert.Equal(800, result.Cell(100, "d", "B").HealthySteps);

        var none = Assert.Throws<ArgumentException>(() => LeaveOneFamilyOut.Evaluate([HorizonRuns.Make("B", "stable", 3, 200, finished: false)], RecordedScores.Detectors, Settings));
        Assert.StartsWith("None of the 1 runs exploded or finished", none.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Evaluate_BadSettings_ListsEveryProblem()
    {
        var bad = new HorizonEvaluationSettings { Horizons = [0, 50], FalseAlarmBudget = -1, Resamples = 0, Confidence = 1 };
        var ex = Assert.Throws<ArgumentException>(() => LeaveOneFamilyOut.Evaluate(Runs(), RecordedScores.Detectors, bad));
        foreach (var name in new[] { "Horizons", "FalseAlarmBudget", "Resamples", "Confidence" })
            Assert.Contains(name + ":", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Evaluate_RecordedScoresOnThreeFamiliesWithForks_ReportHasEveryTableAndNoPaths()
    {
        // Family "gpt": stable/exploding pairs; "lottery": one configuration, some seeds explode; "fork": per seed a
        // control and a trigger forked at step 300 that explodes at 600 with a gradient norm growing after the fork.
        var runs = new List<RunData>();
        for (int seed = 1; seed <= 3; seed++)
        {
            runs.Add(HorizonRuns.Make("gpt", "stable", seed, 500, gradNorm: t => 1 + 0.1 * Math.Sin(t * seed)));
            runs.Add(HorizonRuns.Make("gpt", "exploding", seed, 500, explosionStep: 400 + 10 * seed, absMean: t => 0.1 + t / 1000.0));
        }

        for (int seed = 1; seed <= 4; seed++)
            runs.Add(HorizonRuns.Make("lottery", "edge", seed, 500, explosionStep: seed % 2 == 0 ? 450 : null, gradNorm: t => 1 + 0.05 * Math.Cos(t + seed)));
        for (int seed = 1; seed <= 3; seed++)
        {
            runs.Add(HorizonRuns.Make("fork", "control", seed, 700, forkStep: 300));
            runs.Add(HorizonRuns.Make("fork", "lr-step", seed, 700, explosionStep: 600, forkStep: 300, gradNorm: t => t < 300 ? 1 + 0.01 * (t % 7) : Math.Exp((t - 300) / 100.0)));
        }

        var result = LeaveOneFamilyOut.Evaluate(runs, RecordedScores.Detectors, new HorizonEvaluationSettings { Resamples = 200 });
        Assert.Equal(3 * 3 * RecordedScores.Detectors.Count, result.Cells.Count);
        var fork = result.Families.Single(f => f.Family == "fork");
        Assert.Equal((6, 0, 3, 3, 6), (fork.Runs, fork.Unfinished, fork.Seeds, fork.Exploding, fork.Forks));
        Assert.Equal(3 * 700 + 3 * 300, fork.HealthySteps); // controls whole, triggers before the fork
        Assert.Equal(3 * 100, fork.Positives[100]);

        string report = HorizonReport.Write(result, "dotnet run --project samples/Scenarios -c Release -- horizon --runs runs", TimeSpan.FromSeconds(1));
        Assert.Contains("Command: `dotnet run --project samples/Scenarios -c Release -- horizon --runs runs`", report, StringComparison.Ordinal);
        foreach (int h in HorizonLabels.Default)
        {
            Assert.Contains($"## H = {h}\n", report.ReplaceLineEndings("\n"), StringComparison.Ordinal);
            Assert.Contains($"### H = {h}: choices and intervals", report, StringComparison.Ordinal);
        }

        // One row per detector in each main table and one per family in each detail table; '|' in a name is escaped.
        foreach (var d in RecordedScores.Detectors)
            Assert.Equal(HorizonLabels.Default.Count * (1 + 3), report.Split('\n').Count(l => l.StartsWith($"| {d.Name.Replace("|", "\\|", StringComparison.Ordinal)} |", StringComparison.Ordinal)));
        Assert.Contains("| max \\|mean SA\\| over layers | SA |", report, StringComparison.Ordinal);
        Assert.Contains("| fork | 6 | 0 | 3 | 3 | 6 | 4200 | 3000 |", report, StringComparison.Ordinal);
        Assert.DoesNotContain(Path.GetTempPath(), report, StringComparison.Ordinal);
        Assert.DoesNotContain(Environment.CurrentDirectory, report, StringComparison.Ordinal);
    }
}
