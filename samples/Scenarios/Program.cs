using System.Globalization;
using SpectralAlign.Scenarios;
using SpectralAlign.Scenarios.Training;

namespace SpectralAlign.Scenarios.Cli;

/// <summary>Command line of the scenario suite.</summary>
internal static class Program
{
    private const string Usage = """
        Usage:
          Scenarios list
          Scenarios run --scenario NAME --config CONFIG --seed N --out DIR
                        [--threads 1] [--interval 5] [--post 50|none] [--monitor on|off] [--set key=value ...]
          Scenarios suite --out DIR [--seeds 1,2,3|1-20] [--scenarios a,b] [--configs a,b (default: every configuration)]
                          [--threads 1] [--interval 5] [--post 50|none] [--monitor on|off] [--set key=value ...]
          Scenarios pilot --scenario NAME [--configs a,b] [--seeds 1-20] [--threads 1] [--set key=value ...]
          Scenarios analyze --runs DIR [--out FILE]
          Scenarios evaluate --runs DIR[,DIR…] [--interval 10] [--calibration-seeds 1,2] [--budget 0] [--margin 0.25]
                             [--detectors name,name…] [--calibrations DIR] [--out FILE]
          Scenarios calibrate --runs DIR[,DIR…] --scenario NAME [--seeds 1,2] [--interval 10] [--margin 0.25] --out FILE
          Scenarios horizon --runs DIR[,DIR…] [--horizons 50,100,200] [--budget 0.1] [--resamples 1000] [--seed 11] [--out FILE]
          Scenarios rescue --runs DIR [--lottery-seeds 21-28] [--fork-seeds 16,17] [--shard I/N] [--threads 1] [--arms a,b (pilot)] [--note TEXT] [--out FILE]
        """;

    private static int Main(string[] args)
    {
        if (args.Length == 0)
        {
            Console.Error.WriteLine(Usage);
            return 2;
        }

        try
        {
            var options = ParseOptions(args.Skip(1).ToArray());
            return args[0] switch
            {
                "list" => List(),
                "run" => Run(options),
                "suite" => Suite(options),
                "pilot" => PilotRuns(options),
                "analyze" => Analyze(options),
                "evaluate" => Evaluate(options, args),
                "calibrate" => Calibrate(options, args),
                "horizon" => Horizon(options, args),
                "rescue" => RescueRuns(options, args),
                _ => Fail($"Unknown command '{args[0]}'."),
            };
        }
        catch (Exception ex) when (ex is ArgumentException or FormatException or KeyNotFoundException)
        {
            return Fail(ex.Message);
        }
    }

    private static int List()
    {
        foreach (var s in ScenarioCatalog.All)
        {
            Console.WriteLine($"{s.Name}: {s.Description}");
            foreach (var (config, layer) in s.Configs)
                Console.WriteLine($"  {config,-10} {string.Join(" ", layer.Select(kv => $"{kv.Key}={kv.Value}"))}");
            Console.WriteLine($"  defaults   {string.Join(" ", s.Defaults.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => $"{kv.Key}={kv.Value}"))}");
        }

        return 0;
    }

    private static int Run(Dictionary<string, List<string>> o)
    {
        var scenario = ScenarioCatalog.Get(Single(o, "scenario"));
        string config = Single(o, "config");
        int seed = Int(o, "seed", null);
        var summary = Trainer.Run(scenario, config, seed, RunOptionsFrom(o));
        Print(summary);
        return 0;
    }

    private static int Suite(Dictionary<string, List<string>> o)
    {
        var seeds = Seeds(o, "1,2,3");
        var scenarios = o.ContainsKey("scenarios") ? List(o, "scenarios", "").Select(ScenarioCatalog.Get).ToArray() : ScenarioCatalog.All.ToArray();
        var runOptions = RunOptionsFrom(o);
        foreach (var scenario in scenarios)
        {
            var configs = o.ContainsKey("configs") ? List(o, "configs", "").Where(scenario.Configs.ContainsKey).ToArray() : scenario.Configs.Keys.ToArray();
            foreach (var config in configs)
            {
                foreach (var seed in seeds)
                    Print(Trainer.Run(scenario, config, seed, runOptions));
            }
        }

        return 0;
    }

    private static int PilotRuns(Dictionary<string, List<string>> o)
    {
        var scenario = ScenarioCatalog.Get(Single(o, "scenario"));
        var configs = o.ContainsKey("configs") ? List(o, "configs", "") : scenario.Configs.Keys.ToArray();
        var seeds = Seeds(o, "1-20");
        var overrides = HyperParameters.ParseOverrides(o.TryGetValue("set", out var sets) ? sets : []).ToList();
        Console.WriteLine($"pilot {scenario.Name}: configurations {string.Join(",", configs)}, seeds {string.Join(",", seeds)}{(overrides.Count > 0 ? ", " + string.Join(" ", overrides.Select(kv => $"{kv.Key}={kv.Value}")) : "")}");
        var report = Pilot.Run(scenario, configs, seeds, overrides, Int(o, "threads", 1), Console.Out);
        foreach (var (baseSeed, cpu) in report.BaseCpuSeconds)
            Console.WriteLine(FormattableString.Invariant($"  base {baseSeed}: {cpu:F1} s cpu up to the fork"));
        foreach (var byConfig in report.Runs.GroupBy(r => r.Config))
        {
            var exploded = byConfig.Where(r => r.ExplosionStep is not null).ToList();
            string range = exploded.Count == 0 ? "" : FormattableString.Invariant($", E {exploded.Min(r => r.ExplosionStep)}–{exploded.Max(r => r.ExplosionStep)}");
            string afterFork = exploded.Count == 0 || exploded[0].ForkStep is null ? "" : FormattableString.Invariant($" (fork+{exploded.Min(r => r.ExplosionStep - r.ForkStep)}…{exploded.Max(r => r.ExplosionStep - r.ForkStep)})");
            Console.WriteLine(FormattableString.Invariant($"{byConfig.Key}: {exploded.Count} of {byConfig.Count()} exploded{range}{afterFork}; cpu per run {byConfig.Min(r => r.CpuSeconds):F1}–{byConfig.Max(r => r.CpuSeconds):F1} s"));
        }

        return 0;
    }

    private static int Analyze(Dictionary<string, List<string>> o)
    {
        string report = Analysis.SuiteAnalysis.Report(Single(o, "runs"));
        if (o.ContainsKey("out"))
            File.WriteAllText(Single(o, "out"), report);
        else
            Console.Write(report);
        return 0;
    }

    private static int Evaluate(Dictionary<string, List<string>> o, string[] args)
    {
        var runs = List(o, "runs", "")
            .SelectMany(dir => Directory.GetFiles(dir, "*.jsonl"))
            .Order(StringComparer.Ordinal)
            .Select(Analysis.RunData.Load)
            .ToList();
        var settings = new Analysis.EvaluationSettings
        {
            Interval = Int(o, "interval", 10),
            CalibrationSeeds = List(o, "calibration-seeds", "1,2").Select(x => int.Parse(x, CultureInfo.InvariantCulture)).ToArray(),
            FalseAlarmBudget = o.ContainsKey("budget") ? double.Parse(Single(o, "budget"), CultureInfo.InvariantCulture) : 0,
            Margin = o.ContainsKey("margin") ? double.Parse(Single(o, "margin"), CultureInfo.InvariantCulture) : 0.25,
            CalibrationDirectory = o.ContainsKey("calibrations") ? Single(o, "calibrations") : null,
        };
        var names = o.ContainsKey("detectors") ? List(o, "detectors", "").ToHashSet(StringComparer.Ordinal) : null;
        var detectors = Analysis.DetectorEvaluation.Catalog.Where(d => names is null || names.Contains(d.Name)).ToList();
        var results = Analysis.DetectorEvaluation.Evaluate(runs, detectors, settings);
        string report = Analysis.DetectorEvaluation.Report(results, settings, runs, "dotnet run --project samples/Scenarios -c Release -- " + string.Join(" ", args));
        if (o.ContainsKey("out"))
            File.WriteAllText(Single(o, "out"), report);
        Console.Write(report);
        return 0;
    }

    private static int Calibrate(Dictionary<string, List<string>> o, string[] args)
    {
        string scenario = Single(o, "scenario");
        var seeds = List(o, "seeds", "1,2").Select(x => int.Parse(x, CultureInfo.InvariantCulture)).ToHashSet();
        int interval = Int(o, "interval", 10);
        var runs = List(o, "runs", "")
            .SelectMany(dir => Directory.GetFiles(dir, $"{scenario}.stable.s*.jsonl"))
            .Order(StringComparer.Ordinal)
            .Select(Analysis.RunData.Load)
            .Where(r => seeds.Contains(r.Header.Seed))
            .ToList();
        if (runs.Count == 0)
            return Fail($"No stable runs of '{scenario}' with seeds {string.Join(",", seeds)}.");
        double margin = o.ContainsKey("margin") ? double.Parse(Single(o, "margin"), CultureInfo.InvariantCulture) : 0.25;
        var calibration = Detection.DetectionCalibrator.Fit(
            runs.Select(r => Analysis.DetectorEvaluation.ToCalibrationRun(r, interval)),
            DemoDetection.CalibratedRules(),
            falseAlarmBudget: 0,
            margin,
            FormattableString.Invariant($"{scenario} stable, seeds {string.Join(",", runs.Select(r => r.Header.Seed))}, interval {interval}; made by: dotnet run --project samples/Scenarios -c Release -- {string.Join(" ", args)}"));
        calibration.Save(Single(o, "out"));
        Console.WriteLine(calibration);
        return 0;
    }

    private static int Horizon(Dictionary<string, List<string>> o, string[] args)
    {
        var defaults = new Evaluation.HorizonEvaluationSettings();
        var settings = new Evaluation.HorizonEvaluationSettings
        {
            Horizons = o.ContainsKey("horizons") ? List(o, "horizons", "").Select(x => int.Parse(x, CultureInfo.InvariantCulture)).ToArray() : defaults.Horizons,
            FalseAlarmBudget = o.ContainsKey("budget") ? double.Parse(Single(o, "budget"), CultureInfo.InvariantCulture) : defaults.FalseAlarmBudget,
            Resamples = Int(o, "resamples", defaults.Resamples),
            BootstrapSeed = Int(o, "seed", defaults.BootstrapSeed),
        };
        string command = "dotnet run --project samples/Scenarios -c Release -- " + string.Join(" ", args);
        Console.Write(Evaluation.HorizonCommand.Run(List(o, "runs", ""), settings, o.ContainsKey("out") ? Single(o, "out") : null, command));
        return 0;
    }

    private static int RescueRuns(Dictionary<string, List<string>> o, string[] args)
    {
        var plan = new Rescue.RescuePlan(Seeds(o, "lottery-seeds", "21-28"), Seeds(o, "fork-seeds", "16,17"));
        (int, int)? shard = null;
        if (o.ContainsKey("shard"))
        {
            var parts = Single(o, "shard").Split('/');
            shard = parts.Length == 2 ? (int.Parse(parts[0], CultureInfo.InvariantCulture), int.Parse(parts[1], CultureInfo.InvariantCulture)) : throw new ArgumentException("--shard takes I/N.");
        }

        string command = "dotnet run --project samples/Scenarios -c Release -- " + string.Join(" ", args.Where((a, i) => a != "--shard" && (i == 0 || args[i - 1] != "--shard")).Select(a => a.Contains(' ', StringComparison.Ordinal) ? $"\"{a}\"" : a));
        var arms = o.ContainsKey("arms")
            ? List(o, "arms", "").Select(name => Rescue.RescueArms.All.FirstOrDefault(a => Rescue.RescueArms.Name(a) == name, (Rescue.RescueArmKind)(-1)) is var a && a >= 0 ? a : throw new ArgumentException($"Unknown arm '{name}' (known: {string.Join(", ", Rescue.RescueArms.All.Select(Rescue.RescueArms.Name))}).")).ToHashSet()
            : null;
        Console.Write(Rescue.RescueCommand.Run(Single(o, "runs"), plan, shard, o.ContainsKey("out") ? Single(o, "out") : null, command, Int(o, "threads", 1), Console.Out, arms, o.ContainsKey("note") ? Single(o, "note") : null));
        return 0;
    }

    private static RunOptions RunOptionsFrom(Dictionary<string, List<string>> o) => new()
    {
        OutputDirectory = Single(o, "out"),
        Threads = Int(o, "threads", 1),
        Interval = Int(o, "interval", 5),
        PostExplosionSteps = o.ContainsKey("post") && Single(o, "post") == "none" ? null : Int(o, "post", 50),
        Monitor = !o.ContainsKey("monitor") || Single(o, "monitor") switch
        {
            "on" => true,
            "off" => false,
            var other => throw new ArgumentException($"--monitor takes on or off, not '{other}'."),
        },
        Overrides = HyperParameters.ParseOverrides(o.TryGetValue("set", out var sets) ? sets : []).ToList(),
        Log = Console.Out,
    };

    private static void Print(Scenarios.Recording.RunSummary s) =>
        Console.WriteLine(FormattableString.Invariant(
            $"{s.Scenario}/{s.Config}/seed {s.Seed}: explosion step {(s.ExplosionStep?.ToString(CultureInfo.InvariantCulture) ?? "none")}{(s.ForkStep is { } f ? $" (fork at {f})" : "")}, {s.StepsRun} steps, {s.StopReason}, min loss {s.MinLoss:F4}, final {s.FinalLoss:G4}, max ratio {s.MaxRatioBeforeExplosion:F3}, wall {s.WallSeconds:F1}s, cpu {s.CpuSeconds:F1}s ({s.Threads} threads), alerts {s.Alerts.Count}"));

    private static Dictionary<string, List<string>> ParseOptions(string[] args)
    {
        var result = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        for (int i = 0; i < args.Length; i++)
        {
            if (!args[i].StartsWith("--", StringComparison.Ordinal) || i + 1 >= args.Length)
                throw new ArgumentException($"Expected '--name value', got '{args[i]}'.\n{Usage}");
            string key = args[i][2..];
            if (!result.TryGetValue(key, out var values))
                result[key] = values = [];
            values.Add(args[++i]);
        }

        return result;
    }

    private static string Single(Dictionary<string, List<string>> o, string key) =>
        o.TryGetValue(key, out var v) && v.Count == 1 ? v[0] : throw new ArgumentException($"--{key} is required once.\n{Usage}");

    private static int Int(Dictionary<string, List<string>> o, string key, int? fallback) =>
        o.ContainsKey(key) ? int.Parse(Single(o, key), CultureInfo.InvariantCulture)
        : fallback ?? throw new ArgumentException($"--{key} is required.\n{Usage}");

    /// <summary>Seeds as a comma list whose items may be ranges: 1,2,5-8.</summary>
    private static int[] Seeds(Dictionary<string, List<string>> o, string fallback) => Seeds(o, "seeds", fallback);

    /// <summary>Seeds of option <paramref name="key"/> as a comma list whose items may be ranges.</summary>
    private static int[] Seeds(Dictionary<string, List<string>> o, string key, string fallback) =>
        List(o, key, fallback).SelectMany(item =>
        {
            int dash = item.IndexOf('-', 1);
            if (dash < 0)
                return [int.Parse(item, CultureInfo.InvariantCulture)];
            int from = int.Parse(item[..dash], CultureInfo.InvariantCulture), to = int.Parse(item[(dash + 1)..], CultureInfo.InvariantCulture);
            return to >= from ? Enumerable.Range(from, to - from + 1) : throw new ArgumentException($"Empty seed range '{item}'.");
        }).ToArray();

    private static string[] List(Dictionary<string, List<string>> o, string key, string fallback) =>
        (o.ContainsKey(key) ? Single(o, key) : fallback).Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    private static int Fail(string message)
    {
        Console.Error.WriteLine(message);
        return 2;
    }
}
