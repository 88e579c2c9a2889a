using System.Diagnostics;
using System.Globalization;

namespace SpectralAlign.Scenarios.Training;

/// <summary>The outcome of one pilot run.</summary>
/// <param name="Config">Configuration.</param>
/// <param name="Seed">Seed.</param>
/// <param name="ExplosionStep">Ground-truth explosion step (<see cref="GroundTruth"/>), or null.</param>
/// <param name="ForkStep">The fork step of a fork scenario, else null.</param>
/// <param name="StepsRun">Steps run (the run stops at its explosion).</param>
/// <param name="MinLoss">Smallest finite loss.</param>
/// <param name="MaxAttentionLogit">Largest attention logit seen before the explosion (NaN without attention).</param>
/// <param name="CpuSeconds">Processor time of the run; for a fork branch, of the branch alone (the shared base is
/// reported once, in <see cref="PilotReport.BaseCpuSeconds"/>).</param>
public sealed record PilotResult(string Config, int Seed, long? ExplosionStep, long? ForkStep, long StepsRun, double MinLoss, double MaxAttentionLogit, double CpuSeconds);

/// <summary>Everything a pilot ran.</summary>
/// <param name="Runs">One result per (configuration, seed), in the order asked.</param>
/// <param name="BaseCpuSeconds">Processor time of each shared base run of a fork scenario, by base seed (empty for
/// other scenarios).</param>
public sealed record PilotReport(IReadOnlyList<PilotResult> Runs, IReadOnlyDictionary<int, double> BaseCpuSeconds);

/// <summary>
/// Cheap runs for piloting a scenario: no monitor, no record files, each run stops at its ground-truth explosion. A
/// fork scenario trains each base run once up to its fork step, snapshots model and optimizer, and runs every branch
/// of that base from the snapshot (<see cref="RunSnapshot"/>; the same as running the branch from step 0,
/// because all branches of a base share their pre-fork steps).
/// </summary>
public static class Pilot
{
    /// <summary>Runs the pilot.</summary>
    /// <param name="scenario">The scenario.</param>
    /// <param name="configs">Configurations.</param>
    /// <param name="seeds">Seeds.</param>
    /// <param name="overrides">key=value overrides for every run.</param>
    /// <param name="threads">torch threads.</param>
    /// <param name="log">One line per finished run (null for none).</param>
    /// <returns>The results.</returns>
    public static PilotReport Run(Scenario scenario, IReadOnlyList<string> configs, IReadOnlyList<int> seeds, IReadOnlyList<KeyValuePair<string, string>> overrides, int threads = 1, TextWriter? log = null)
    {
        ArgumentNullException.ThrowIfNull(scenario);
        ArgumentNullException.ThrowIfNull(configs);
        ArgumentNullException.ThrowIfNull(seeds);
        ArgumentNullException.ThrowIfNull(overrides);
        var results = new Dictionary<(string, int), PilotResult>();
        var baseCpu = new Dictionary<int, double>();
        bool isFork = scenario is ForkScenario;
        var groups = isFork
            ? seeds.GroupBy(s => ForkScenario.BaseSeed(s, scenario.Settings(configs[0], overrides).GetInt("branches")))
            : seeds.GroupBy(s => s);
        foreach (var group in groups)
        {
            if (!isFork)
            {
                foreach (var config in configs)
                    Report(results, log, RunFrom(scenario, config, group.Key, overrides, threads, null));
                continue;
            }

            var (_, baseLoop) = Trainer.Prepare(scenario, configs[0], group.First(), overrides, threads);
            using var baseSetup = baseLoop.Setup;
            long fork = baseSetup.ForkStep!.Value;
            var prefix = new List<(double Loss, double Logit)>();
            var start = CpuTime();
            while (baseLoop.NextStep < fork)
                prefix.Add((baseLoop.Step().Loss, baseSetup.MaxAttentionLogit?.Invoke() ?? double.NaN));
            using var snapshot = baseLoop.Snapshot();
            baseCpu[group.Key] = CpuTime() - start;
            foreach (var config in configs)
            {
                foreach (var seed in group)
                    Report(results, log, RunFrom(scenario, config, seed, overrides, threads, (snapshot, prefix)));
            }
        }

        return new PilotReport([.. configs.SelectMany(c => seeds.Select(s => results[(c, s)]))], baseCpu);
    }

    private static void Report(Dictionary<(string, int), PilotResult> results, TextWriter? log, PilotResult r)
    {
        results[(r.Config, r.Seed)] = r;
        log?.WriteLine(FormattableString.Invariant(
            $"  {r.Config}/s{r.Seed}: E {(r.ExplosionStep is { } e ? e.ToString(CultureInfo.InvariantCulture) + (r.ForkStep is { } f ? $" (fork+{e - f})" : "") : "none")}, {r.StepsRun} steps, min loss {r.MinLoss:F3}, max attention logit {r.MaxAttentionLogit:G3}, cpu {r.CpuSeconds:F1}s"));
    }

    private static PilotResult RunFrom(Scenario scenario, string config, int seed, IReadOnlyList<KeyValuePair<string, string>> overrides, int threads, (RunSnapshot Snapshot, List<(double Loss, double Logit)> Prefix)? fork)
    {
        double start = CpuTime();
        var (_, loop) = Trainer.Prepare(scenario, config, seed, overrides, threads);
        using var setup = loop.Setup;
        var tracker = new ExplosionTracker();
        double minLoss = double.PositiveInfinity, maxLogit = double.NaN;
        void Observe(long step, double loss, double logit)
        {
            if (tracker.ExplosionStep is not null)
                return;
            if (double.IsFinite(loss))
                minLoss = Math.Min(minLoss, loss);
            if (!double.IsNaN(logit))
                maxLogit = double.IsNaN(maxLogit) ? logit : Math.Max(maxLogit, logit);
            tracker.Observe(step, loss);
        }

        if (fork is { } f)
        {
            if (setup.ForkStep != f.Snapshot.Step)
                throw new InvalidOperationException($"Configuration '{config}' forks at {setup.ForkStep}, the base snapshot is at {f.Snapshot.Step}.");
            for (int t = 0; t < f.Prefix.Count; t++)
                Observe(t, f.Prefix[t].Loss, f.Prefix[t].Logit);
            loop.Restore(f.Snapshot);
        }

        setup.Model.train();
        while (!loop.Finished && tracker.ExplosionStep is null)
        {
            var r = loop.Step();
            Observe(r.Step, r.Loss, setup.MaxAttentionLogit?.Invoke() ?? double.NaN);
        }

        return new PilotResult(config, seed, tracker.ExplosionStep, setup.ForkStep, loop.NextStep, minLoss, maxLogit, CpuTime() - start);
    }

    private static double CpuTime() => Process.GetCurrentProcess().TotalProcessorTime.TotalSeconds;
}
