using System.Text.Json;
using SpectralAlign.Scenarios.Recording;

namespace SpectralAlign.Scenarios.Rescue;

/// <summary>
/// Computes the cells of a rescue evaluation into a folder (one JSON file per case and arm; a cell already there is
/// loaded, not recomputed, so an interrupted evaluation resumes and shards can run in separate processes).
/// </summary>
/// <remarks>
/// Cells that would run exactly as another cell by construction are copied from it instead of run, and marked with
/// <see cref="RescueResult.DerivedFrom"/>: the reactive rollback on a run whose unguarded loss never explodes (its only
/// trigger never fires; a guard that never acts leaves training bit-identical, a tested guarantee); the arms that act
/// on the guard's triggers (the rank-one correction, the on-alert remedies) on a run where the guard never intervened
/// (same trajectory, same triggers: none); the placebo on a run where the guard made no intervention (nothing to
/// apply).
/// </remarks>
public sealed class RescueEvaluation(string directory, string commit, int threads, TextWriter? log)
{
    /// <summary>The placebo's first admissible step: the ground truth's settling period.</summary>
    public const int PlaceboFrom = GroundTruth.SettlingSteps;

    /// <summary>Computes (or loads) every cell of the cases this shard owns.</summary>
    /// <param name="plan">The plan.</param>
    /// <param name="shard">This shard's index.</param>
    /// <param name="shards">Number of shards (cases are dealt round-robin, references first).</param>
    /// <param name="arms">Only these arms (for pilots; <see cref="RescueArmKind.StableConfiguration"/> selects the
    /// reference runs), or null for all.</param>
    public void Compute(RescuePlan plan, int shard, int shards, IReadOnlySet<RescueArmKind>? arms = null)
    {
        ArgumentNullException.ThrowIfNull(plan);
        Directory.CreateDirectory(directory);
        var work = plan.References.Where(_ => arms is null || arms.Contains(RescueArmKind.StableConfiguration)).Select(r => (Case: r, Reference: true)).Concat(plan.Cases.Select(c => (Case: c, Reference: false))).ToList();
        for (int i = shard; i < work.Count; i += shards)
        {
            var (rescueCase, isReference) = work[i];
            if (isReference)
            {
                Cell(rescueCase, RescueArmKind.None, () => RescueRunner.Run(rescueCase, RescueArmKind.None, threads: threads, log: log));
                continue;
            }

            foreach (var arm in RescueArms.All.Where(a => a != RescueArmKind.StableConfiguration && (arms is null || arms.Contains(a))))
                Cell(rescueCase, arm, () => RunOrDerive(rescueCase, arm));
        }
    }

    /// <summary>Loads every cell of the plan (all must exist).</summary>
    /// <param name="plan">The plan.</param>
    /// <returns>Per case: each arm's result (the stable-configuration arm is the reference's unguarded run).</returns>
    /// <exception cref="FileNotFoundException">A cell has not been computed.</exception>
    public IReadOnlyList<(RescueCase Case, IReadOnlyDictionary<RescueArmKind, RescueResult> Arms)> Load(RescuePlan plan)
    {
        ArgumentNullException.ThrowIfNull(plan);
        return plan.Cases.Select(c =>
        {
            var arms = RescueArms.All.ToDictionary(a => a, a => a == RescueArmKind.StableConfiguration ? Read(c.Reference!, RescueArmKind.None) : Read(c, a));
            return (c, (IReadOnlyDictionary<RescueArmKind, RescueResult>)arms);
        }).ToList();
    }

    private RescueResult RunOrDerive(RescueCase c, RescueArmKind arm)
    {
        if (arm == RescueArmKind.None)
            return RescueRunner.Run(c, arm, threads: threads, log: log);
        var none = Read(c, RescueArmKind.None);
        bool noneStable = none.Finished;
        switch (arm)
        {
            case RescueArmKind.ReactiveRollback when noneStable:
                return Derive(none, arm);
            case RescueArmKind.CorrectionOnly or RescueArmKind.OnAlertMatrixSign or RescueArmKind.OnAlertSmooth when Read(c, RescueArmKind.Guard).Interventions == 0:
                return Derive(none, arm);
            case RescueArmKind.Placebo:
                var guard = Read(c, RescueArmKind.Guard);
                if (guard.Interventions == 0)
                    return Derive(none, arm);
                var steps = PlaceboSchedule.Draw(guard.Interventions, PlaceboFrom, none.Budget, new TrainingGuardOptions().CooldownSteps + 1, c.Seed);
                return RescueRunner.Run(c, arm, steps, threads, log);
            default:
                return RescueRunner.Run(c, arm, threads: threads, log: log);
        }
    }

    private static RescueResult Derive(RescueResult source, RescueArmKind arm) =>
        source with { Arm = RescueArms.Name(arm), DerivedFrom = source.Arm };

    private void Cell(RescueCase c, RescueArmKind arm, Func<RescueResult> compute)
    {
        string path = Path.Combine(directory, c.ResultFileName(arm));
        if (File.Exists(path))
            return;
        var result = compute() with { Commit = commit };
        string temp = path + ".tmp";
        File.WriteAllText(temp, JsonSerializer.Serialize(result, RunRecords.Options));
        File.Move(temp, path, overwrite: true);
    }

    private RescueResult Read(RescueCase c, RescueArmKind arm)
    {
        string path = Path.Combine(directory, c.ResultFileName(arm));
        if (!File.Exists(path))
            throw new FileNotFoundException($"Cell {c.ResultFileName(arm)} has not been computed (run the shards first).", path);
        return JsonSerializer.Deserialize<RescueResult>(File.ReadAllText(path), RunRecords.Options)
            ?? throw new InvalidDataException($"Empty result file {c.ResultFileName(arm)}.");
    }
}
