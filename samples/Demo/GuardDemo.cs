using System.Globalization;
using System.Text;
using SpectralAlign.Scenarios;
using SpectralAlign.Scenarios.Rescue;
using SpectralAlign.Scenarios.Training;

/// <summary>
/// The guard demo: one seed of the edge-of-stability lottery (a character-level GPT without normalisation, AdamW,
/// 300-step warm-up to a constant learning rate at the model's stability limit) trained three ways with the rescue
/// evaluation's own runner (<see cref="RescueRunner"/>): unguarded (it explodes), with <c>TrainingGuard</c> at its
/// default options (each intervention printed as it happens), and at the stable learning rate from the start, for
/// the final loss a rescued run should reach.
/// </summary>
internal static class GuardDemo
{
    public static int Run(DemoOptions options)
    {
        int seed = options.Seed ?? 17;
        var scenario = ScenarioCatalog.Get("gpt-lottery");
        var exploding = new RescueCase(scenario.Name, "edge", seed, [], null);
        var stable = new RescueCase(scenario.Name, "edge", seed, [new("lr", RescuePlan.LotteryStableLearningRate)], null);
        Console.WriteLine($"SpectralAlign guard demo: {scenario.Description}");
        Console.WriteLine($"Seed {seed}, {options.Threads} threads. The same run three times: unguarded, guarded, and at the stable learning rate {RescuePlan.LotteryStableLearningRate}.");
        Console.WriteLine();

        var progress = ProgressLine.ForConsole(plainEvery: 100);
        using var log = new ProgressWriter(progress);
        (RescueResult Result, double LastLoss) Train(string title, RescueCase rescueCase, RescueArmKind arm)
        {
            Console.WriteLine(title);
            double last = double.NaN;
            long? explosion = null;
            var tracker = new KeptLosses();
            var result = RescueRunner.Run(rescueCase, arm, threads: options.Threads, log: arm == RescueArmKind.None ? null : log, onStep: (r, scale) =>
            {
                last = r.Loss;
                if (tracker.Record(r.Step, r.Loss) && arm == RescueArmKind.None)
                    explosion = r.Step;
                progress.Update(r.Step, FormattableString.Invariant($"step {r.Step,4}  loss {r.Loss,8:F4}  lr {r.LearningRate:0.00e0}  lr scale {scale:0.###}  grad {r.GradNorm,8:G3}"));
            });
            progress.Finish();
            if (explosion is { } e)
                Console.WriteLine(FormattableString.Invariant($"  EXPLOSION at step {e}: the loss more than doubled its running minimum; the run is lost."));
            Console.WriteLine(FormattableString.Invariant($"  {(result.Finished ? "finished" : "did not finish")} after {result.StepsExecuted} steps ({result.StepsRecomputed} recomputed), {result.TrainSeconds:F0} s"));
            Console.WriteLine();
            return (result, last);
        }

        var (unguarded, unguardedLast) = Train("1. Unguarded", exploding, RescueArmKind.None);
        var (guarded, _) = Train("2. Guarded: TrainingGuard with default options (interventions as they happen)", exploding, RescueArmKind.Guard);
        var (reference, _) = Train($"3. Stable learning rate {RescuePlan.LotteryStableLearningRate} from the start (reference)", stable, RescueArmKind.None);

        string Final(RescueResult r, double last) => r.Finished
            ? r.FinalLoss.ToString("F4", CultureInfo.InvariantCulture)
            : FormattableString.Invariant($"exploded at step {r.ExplosionStep} (last loss {last:G4})");
        Console.WriteLine("Final loss (mean of the last 50 steps):");
        Console.WriteLine($"  unguarded            {Final(unguarded, unguardedLast)}");
        Console.WriteLine($"  guarded              {Final(guarded, double.NaN)}  ({guarded.Interventions} intervention{(guarded.Interventions == 1 ? "" : "s")}, {guarded.StepsRecomputed} steps recomputed)");
        Console.WriteLine($"  stable from start    {Final(reference, double.NaN)}");
        if (guarded.Finished && reference.Finished)
            Console.WriteLine(FormattableString.Invariant($"  guarded / stable     {guarded.FinalLoss / reference.FinalLoss:F3}"));
        Console.WriteLine("How often this works across seeds and families: samples/SpectralAlign.Scenarios/RESCUE.md and README, \"Keeping the run alive\".");
        return 0;
    }

    /// <summary>Routes the runner's intervention lines through the progress display.</summary>
    private sealed class ProgressWriter(ProgressLine progress) : TextWriter
    {
        public override Encoding Encoding => Encoding.UTF8;

        public override void WriteLine(string? value) => progress.WriteLine(value ?? "");
    }
}
