// SpectralAlign's performance harness (issue 4). From the repository root:
//
//   dotnet run --project tests/SpectralAlign.Benchmarks -c Release              # full run (~15 min), writes RESULTS.md here
//   dotnet run --project tests/SpectralAlign.Benchmarks -c Release -- --quick   # a few minutes, writes artifacts/benchmarks/
//
// Options: --only overhead,svd,accuracy,scaling,soak,guard   --threads N (torch intra-op threads, default 1)
//          --soak-steps N (default 10000; 1000 with --quick)   --out FILE
// Every figure is a ratio or a distribution measured within this one run; nothing is compared across runs.
using System.Diagnostics;
using System.Globalization;
using System.Text;
using SpectralAlign.Benchmarks;
using static SpectralAlign.Benchmarks.Harness;
using static TorchSharp.torch;

bool quick = args.Contains("--quick");
string? Option(string name) => Array.IndexOf(args, name) is int i and >= 0 && i + 1 < args.Length ? args[i + 1] : null;
var known = new[] { "overhead", "svd", "accuracy", "scaling", "soak", "guard" };
var only = (Option("--only")?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) ?? known).ToHashSet(StringComparer.Ordinal);
var unknown = only.Except(known).ToList();
if (unknown.Count > 0)
{
    Console.Error.WriteLine($"Unknown benchmark(s): {string.Join(", ", unknown)}. Known: {string.Join(", ", known)}.");
    return 2;
}

int threads = int.Parse(Option("--threads") ?? "1", CultureInfo.InvariantCulture);
int soakSteps = int.Parse(Option("--soak-steps") ?? (quick ? "1000" : "10000"), CultureInfo.InvariantCulture);
string output = Option("--out") ?? (quick
    ? Path.Combine("artifacts", "benchmarks", "RESULTS-quick.md")
    : Directory.Exists(Path.Combine("tests", "SpectralAlign.Benchmarks")) ? Path.Combine("tests", "SpectralAlign.Benchmarks", "RESULTS.md") : "RESULTS.md");
set_num_threads(threads);

var wall = Stopwatch.StartNew();
var summary = new List<string>();
var sections = new StringBuilder();
void Section(string title, Func<string> body)
{
    Console.Error.WriteLine($"{title} …");
    var clock = Stopwatch.StartNew();
    string text = body();
    sections.AppendLine($"## {title}").AppendLine().Append(text).AppendLine().AppendLine(FormattableString.Invariant($"_({F(clock.Elapsed.TotalSeconds, "0")} s)_")).AppendLine();
    Console.Error.WriteLine(text);
}

string Verdict(bool met) => met ? "met" : "**not met**";

if (only.Contains("overhead"))
{
    Section("Training-step overhead on the demo model", () =>
    {
        string text = OverheadBenchmark.Run(quick, out var interleaved, out var profiled);
        double interval1 = interleaved[0], standard = interleaved[1], profiled1 = profiled[0], profiledDefault = profiled[1];
        summary.Add(FormattableString.Invariant($"| added step time, all Linear layers, Interval = 1: interleaved timing (profile) | {F(interval1, "+0.00;-0.00")}% ({F(profiled1, "+0.00")}%) | ≤ 3% (issue 4) | {Verdict(interval1 <= 3 && profiled1 <= 3)} |"));
        summary.Add(FormattableString.Invariant($"| added step time, default interval (10): interleaved timing (profile) | {F(standard, "+0.00;-0.00")}% ({F(profiledDefault, "+0.00")}%) | ≤ 0.5% (issue 4) | {Verdict(standard <= 0.5 && profiledDefault <= 0.5)} |"));
        // Issue 13's targets: ≤ +10% at Interval = 1 (both measures); ≤ +1% at the default interval by the profile (the
        // interleaved timing's round-to-round noise, a few percent, cannot resolve 1%; it is reported alongside).
        summary.Add(FormattableString.Invariant($"| issue 13: added step time at Interval = 1, interleaved timing (profile) | {F(interval1, "+0.00;-0.00")}% ({F(profiled1, "+0.00")}%) | ≤ 10% | {Verdict(interval1 <= 10 && profiled1 <= 10)} |"));
        summary.Add(FormattableString.Invariant($"| issue 13: added step time at the default interval, profile (interleaved timing) | {F(profiledDefault, "+0.00")}% ({F(standard, "+0.00;-0.00")}%) | ≤ 1% by the profile | {Verdict(profiledDefault <= 1)} |"));
        // The same with MeasureInBackground: the training thread's share (the worker's own time is in the section).
        summary.Add(FormattableString.Invariant($"| issue 13, MeasureInBackground: Interval = 1, interleaved timing (training-thread profile) | {F(interleaved[2], "+0.00;-0.00")}% ({F(profiled[2], "+0.00")}%) | ≤ 10% | {Verdict(interleaved[2] <= 10 && profiled[2] <= 10)} |"));
        summary.Add(FormattableString.Invariant($"| issue 13, MeasureInBackground: default interval, training-thread profile (interleaved timing) | {F(profiled[3], "+0.00")}% ({F(interleaved[3], "+0.00;-0.00")}%) | ≤ 1% by the profile | {Verdict(profiled[3] <= 1)} |"));
        return text + Environment.NewLine + "What single operations cost on this machine (the floor under the figures above):" + Environment.NewLine + Environment.NewLine + OperationCosts.Run();
    });
}

if (only.Contains("svd"))
{
    Section("Power iteration vs torch.linalg.svd", () =>
    {
        string text = PowerIterationBenchmark.Run(quick, out double r1024, out double r4096);
        summary.Add(FormattableString.Invariant($"| one power-iteration update / SVD, 1024 × 1024 | 1/{F(1 / r1024, "0")} | ≤ 1/300 | {Verdict(r1024 <= 1 / 300.0)} |"));
        if (!double.IsNaN(r4096))
            summary.Add(FormattableString.Invariant($"| one power-iteration update / SVD, 4096 × 4096 | 1/{F(1 / r4096, "0")} | ≤ 1/1000 | {Verdict(r4096 <= 1 / 1000.0)} |"));
        return text;
    });
}

if (only.Contains("accuracy"))
{
    Section("Accuracy of the warm power iteration on real training runs", () =>
    {
        string text = AccuracyBenchmark.Run(quick, out double cos, out double mean);
        summary.Add(FormattableString.Invariant($"| \\|cos(v1, SVD)\\| ≥ 0.999 for σ2/σ1 < 0.9 | {F(100 * cos, "0.00")}% | ≥ 99% | {Verdict(cos >= 0.99)} |"));
        summary.Add(FormattableString.Invariant($"| \\|ΔSA mean\\| < 0.01, all measurements | {F(100 * mean, "0.00")}% | ≥ 99% | {Verdict(mean >= 0.99)} |"));
        return text;
    });
}

if (only.Contains("scaling"))
    Section("Monitor cost vs width, rows per batch and layer count", () => ScalingBenchmark.Run(quick));

if (only.Contains("guard"))
    Section("Guard: snapshots, rollback and spectral remedies", () => GuardBenchmark.Run(quick, summary));

if (only.Contains("soak"))
{
    Section("Memory soak", () =>
    {
        string text = MemorySoak.Run(soakSteps, out double rss, out long tensors);
        summary.Add(FormattableString.Invariant($"| {soakSteps:N0}-step soak: resident-set growth after warm-up | {F(rss, "+0.0;-0.0")} MiB | no growth (≤ +32 MiB of allocator noise) | {Verdict(rss <= 32)} |"));
        summary.Add(FormattableString.Invariant($"| {soakSteps:N0}-step soak: live-tensor growth after warm-up | {tensors:+0;-0;0} | flat | {Verdict(tensors == 0)} |"));
        return text;
    });
}

var report = new StringBuilder();
report.AppendLine(quick ? "# SpectralAlign benchmark results (quick run)" : "# SpectralAlign benchmark results");
report.AppendLine();
report.AppendLine(FormattableString.Invariant($"- Command: `dotnet run --project tests/SpectralAlign.Benchmarks -c Release{(args.Length > 0 ? " -- " + string.Join(' ', args) : "")}`"));
report.AppendLine(FormattableString.Invariant($"- Date: {DateTimeOffset.UtcNow:yyyy-MM-dd HH:mm} UTC; total time {F(wall.Elapsed.TotalMinutes, "0.0")} min"));
report.AppendLine($"- Machine: {Machine()}");
report.AppendLine("- Build: Release; CPU (TorchSharp-cpu). Ratios compare configurations measured interleaved in this one run.");
report.AppendLine();
report.AppendLine("## Targets");
report.AppendLine();
report.AppendLine("| measure | result | target | |");
report.AppendLine("|---|---:|---|---|");
foreach (var line in summary)
    report.AppendLine(line);
report.AppendLine();
report.Append(sections);

Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(output))!);
File.WriteAllText(output, report.ToString());
Console.WriteLine(report.ToString());
Console.Error.WriteLine($"Results written to {output}");
return 0;
