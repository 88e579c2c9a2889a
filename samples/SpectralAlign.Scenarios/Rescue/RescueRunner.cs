using System.Diagnostics;
using System.Globalization;
using SpectralAlign.Scenarios.Training;
using static TorchSharp.torch;

namespace SpectralAlign.Scenarios.Rescue;

/// <summary>
/// Runs one arm on one case. The scenario's <see cref="TrainingLoop"/> drives the steps (it sets the learning rate
/// every step, so it is given the guard's <see cref="TrainingGuard.LearningRateScale"/> before each one: the "loop sets
/// the rate itself" case); after each step the guard, if any, is stepped with the loss, and a rollback rewinds the
/// loop to the data step after the restored snapshot (the batches are step-indexed, so the recomputed steps see the
/// same batches). The kept loss series decides the outcome (<see cref="KeptLosses"/>).
/// </summary>
public static class RescueRunner
{
    /// <summary>Steps averaged for the final loss.</summary>
    public const int FinalWindow = 50;

    /// <summary>A run whose kept series exploded this many steps ago is abandoned even by a rolling-back arm (no
    /// snapshot reaches that far back: 4 kept, 50 steps apart).</summary>
    public const int HopelessAfter = 400;

    /// <summary>Runs the arm.</summary>
    /// <param name="rescueCase">The case (for <see cref="RescueArmKind.StableConfiguration"/> pass the reference case
    /// and <see cref="RescueArmKind.None"/>).</param>
    /// <param name="arm">The arm.</param>
    /// <param name="placeboSteps">For <see cref="RescueArmKind.Placebo"/>: the executed-step indices at which to trip
    /// the guard (<see cref="PlaceboSchedule"/>); ignored otherwise.</param>
    /// <param name="threads">torch threads.</param>
    /// <param name="log">Interventions and the outcome are written here (null for none).</param>
    /// <param name="onStep">Called after every step with what it did and the learning-rate factor in force (null for
    /// nothing; for progress displays).</param>
    /// <returns>The result.</returns>
    public static RescueResult Run(RescueCase rescueCase, RescueArmKind arm, IReadOnlyCollection<long>? placeboSteps = null, int threads = 1, TextWriter? log = null, Action<StepResult, double>? onStep = null)
    {
        ArgumentNullException.ThrowIfNull(rescueCase);
        var wall = Stopwatch.StartNew();
        var (_, loop) = Trainer.Prepare(ScenarioCatalog.Get(rescueCase.Scenario), rescueCase.Config, rescueCase.Seed, rescueCase.Overrides, threads);
        using var setup = loop.Setup;
        loop.Clipping = RescueArms.Clipping(arm) ?? loop.Clipping;
        var guardOptions = RescueArms.GuardOptions(arm);
        using var monitor = guardOptions is null ? null : new SpectralMonitor(new SpectralMonitorOptions { Seed = rescueCase.Seed });
        monitor?.WatchAll(setup.Model);
        using var guard = monitor is null ? null : new TrainingGuard(monitor, setup.Model, setup.Optimizer, guardOptions);
        var interventions = new List<GuardIntervention>();
        var dataStepOf = new List<long>(); // guard step → the data step it ran
        var interventionLog = new List<string>();
        bool exhausted = false;
        string tag = $"[{rescueCase.Scenario}/{rescueCase.Label}/s{rescueCase.Seed}/{RescueArms.Name(arm)}]";
        if (guard is not null)
        {
            guard.Intervened += (_, i) =>
            {
                interventions.Add(i);
                string restored = i.RestoredSnapshotStep is { } r ? FormattableString.Invariant($", back to the state after data step {dataStepOf[(int)r]}") : "";
                string line = FormattableString.Invariant($"data step {dataStepOf[(int)i.Step]}: {i}{restored}");
                interventionLog.Add(line);
                log?.WriteLine($"  {tag} {line}");
            };
            guard.Exhausted += (_, _) => exhausted = true;
        }

        var placebo = arm == RescueArmKind.Placebo ? new HashSet<long>(placeboSteps ?? []) : [];
        var kept = new KeptLosses();
        long executed = 0;
        var train = Stopwatch.StartNew();
        setup.Model.train();
        while (!loop.Finished)
        {
            if (guard is not null)
                loop.LearningRateScale = guard.LearningRateScale;
            var r = loop.Step();
            bool explodedNow = kept.Record(r.Step, r.Loss);
            dataStepOf.Add(r.Step);
            if (guard is not null)
            {
                if (arm == RescueArmKind.ReactiveRollback && explodedNow)
                    guard.Trip(FormattableString.Invariant($"ground truth: loss {r.Loss:G4} at step {r.Step}"));
                if (placebo.Contains(executed))
                    guard.Trip("placebo");
                int before = interventions.Count;
                var action = guard.Step(r.Loss);
                if (action == GuardAction.RolledBack && interventions.Count > before && interventions[^1].RestoredSnapshotStep is { } restored)
                {
                    loop.NextStep = dataStepOf[(int)restored] + 1;
                    kept.Truncate(loop.NextStep);
                }
            }

            executed++;
            onStep?.Invoke(r, loop.LearningRateScale);
            if (kept.ExplosionStep is { } e && (!RescueArms.RollsBack(arm) || exhausted || loop.NextStep >= e + HopelessAfter || (guard is not null && guard.Interventions >= guard.Options.MaxInterventions && !double.IsFinite(r.Loss))))
                break;
        }

        train.Stop();
        bool finished = loop.Finished && kept.ExplosionStep is null && kept.Count >= setup.Steps;
        var result = new RescueResult
        {
            Scenario = rescueCase.Scenario,
            Label = rescueCase.Label,
            Seed = rescueCase.Seed,
            Arm = RescueArms.Name(arm),
            Budget = setup.Steps,
            Finished = finished,
            ExplosionStep = kept.ExplosionStep,
            StepsExecuted = executed,
            StepsRecomputed = executed - kept.Count,
            FinalLoss = finished ? kept.FinalLoss(FinalWindow) : double.NaN,
            Interventions = guard?.Interventions ?? 0,
            Rollbacks = interventions.Count(i => i.Action == GuardAction.RolledBack),
            CorrectionsApplied = interventions.Sum(i => i.Corrections.Count(c => c.Applied)),
            Exhausted = exhausted,
            InterventionLog = interventionLog,
            TrainSeconds = train.Elapsed.TotalSeconds,
            WallSeconds = wall.Elapsed.TotalSeconds,
        };
        log?.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{tag} {(finished ? "finished" : "did not finish")}: explosion {result.ExplosionStep?.ToString(CultureInfo.InvariantCulture) ?? "none"}, {executed} steps executed ({result.StepsRecomputed} recomputed), final loss {result.FinalLoss:F4}, interventions {result.Interventions}, {result.TrainSeconds:F1} s"));
        return result;
    }
}
