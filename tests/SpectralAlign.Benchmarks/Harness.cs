using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using static TorchSharp.torch;

namespace SpectralAlign.Benchmarks;

/// <summary>Timing and reporting helpers shared by the benchmarks.</summary>
internal static class Harness
{
    /// <summary>The median of <paramref name="values"/> (NaN when empty).</summary>
    public static double Median(IEnumerable<double> values) => Quantile(values, 0.5);

    /// <summary>Linear-interpolated quantile (NaN when empty).</summary>
    public static double Quantile(IEnumerable<double> values, double q)
    {
        var sorted = values.Order().ToArray();
        if (sorted.Length == 0)
            return double.NaN;
        double position = q * (sorted.Length - 1);
        int lower = (int)Math.Floor(position);
        int upper = Math.Min(lower + 1, sorted.Length - 1);
        return sorted[lower] + ((position - lower) * (sorted[upper] - sorted[lower]));
    }

    /// <summary>Runs <paramref name="action"/> a few times untimed, then times it until both
    /// <paramref name="minRuns"/> runs and <paramref name="minSeconds"/> have passed (at most
    /// <paramref name="maxRuns"/>); returns the per-run times in milliseconds.</summary>
    public static List<double> Time(Action action, int warmup, int minRuns, double minSeconds, int maxRuns = 10_000)
    {
        for (int i = 0; i < warmup; i++)
            action();
        var times = new List<double>();
        var total = Stopwatch.StartNew();
        while (times.Count < maxRuns && (times.Count < minRuns || total.Elapsed.TotalSeconds < minSeconds))
        {
            long start = Stopwatch.GetTimestamp();
            action();
            times.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
        }

        return times;
    }

    /// <summary>The process's resident set in MiB (from /proc on Linux; the working set elsewhere).</summary>
    public static double ResidentMiB()
    {
        if (OperatingSystem.IsLinux())
        {
            foreach (var line in File.ReadLines("/proc/self/status"))
            {
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                    return double.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024;
            }
        }

        using var process = Process.GetCurrentProcess();
        return process.WorkingSet64 / (1024.0 * 1024.0);
    }

    /// <summary>A description of this machine for the results file.</summary>
    public static string Machine()
    {
        string cpu = "unknown CPU";
        if (File.Exists("/proc/cpuinfo"))
        {
            cpu = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? cpu;
        }

        string os = RuntimeInformation.OSDescription;
        if (File.Exists("/etc/os-release"))
        {
            os = File.ReadLines("/etc/os-release").FirstOrDefault(l => l.StartsWith("PRETTY_NAME=", StringComparison.Ordinal))?.Split('=', 2)[1].Trim('"') ?? os;
        }

        string torchSharp = typeof(TorchSharp.torch).Assembly.GetName().Version?.ToString() ?? "?";
        return FormattableString.Invariant(
            $"{cpu}, {Environment.ProcessorCount} logical cores, {os}, .NET {Environment.Version}, TorchSharp {torchSharp}, torch threads {get_num_threads()}");
    }

    /// <summary>Formats a number for the tables.</summary>
    public static string F(double value, string format = "0.###") => value.ToString(format, CultureInfo.InvariantCulture);
}
