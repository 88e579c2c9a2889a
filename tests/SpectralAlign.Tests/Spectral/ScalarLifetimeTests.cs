using System.Text.RegularExpressions;
using SpectralAlign.Spectral;
using SpectralAlign.Tests.Support;
using static TorchSharp.torch;

namespace SpectralAlign.Tests.Spectral;

/// <summary>
/// The cause of the intermittent "Unknown scalar type" failures: a number passed where TorchSharp takes a
/// <c>Scalar</c> becomes a temporary whose finalizer, run by a garbage collection on another thread during the native
/// call, frees the value libtorch is reading (see <see cref="Scalars"/>). The engine passes only scalars it keeps alive.
/// </summary>
[Collection(TorchCollection.Name)]
public sealed partial class ScalarLifetimeTests
{
    [Fact]
    public void Measure_UnderConcurrentGarbageCollection_NeverFailsAndRepeatsItsResult()
    {
        using var weight = EngineHarness.GappedWeight(2, 12, 8, ScalarType.Float32, seed: 3);
        using var rows = EngineHarness.OffsetRows(2, 40, 8, ScalarType.Float32, seed: 4);
        var options = EngineHarness.Options();
        var (reference, _) = EngineHarness.MeasureOnce(weight, rows, options);

        var failures = new List<string>();
        int runs = 0;
        using var stop = new CancellationTokenSource();
        var collector = new Thread(() =>
        {
            while (!stop.IsCancellationRequested)
            {
                GC.Collect();
                GC.WaitForPendingFinalizers();
            }
        });
        collector.Start();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        try
        {
            // Each measurement passes a few dozen scalars to libtorch; before the fix about one call in 10,000
            // failed or read a freed value while another thread collected (the benchmark's stress showed 52 of
            // 489,000), so these seconds would have seen several failures.
            while (clock.Elapsed < TimeSpan.FromSeconds(4))
            {
                try
                {
                    var (m, _) = EngineHarness.MeasureOnce(weight, rows, options);
                    if (m.Stats.Mean != reference.Stats.Mean || m.CenteredStats.Mean != reference.CenteredStats.Mean || m.SpectralNorm != reference.SpectralNorm)
                        failures.Add($"run {runs}: a different result");
                }
#pragma warning disable CA1031 // Collected and reported below.
                catch (Exception ex)
#pragma warning restore CA1031
                {
                    failures.Add($"run {runs}: {ex.Message.Split('\n')[0]}");
                }

                runs++;
            }
        }
        finally
        {
            stop.Cancel();
            collector.Join();
        }

        Assert.True(runs > 10, $"only {runs} runs");
        Assert.True(failures.Count == 0, string.Join(Environment.NewLine, failures.Take(10)));
    }

    [Fact]
    public void EngineSource_PassesNoNumberWhereTorchSharpTakesAScalar()
    {
        string folder = Path.Combine(SourceTree.Root(), "src", "SpectralAlign", "Spectral");
        var offences = Directory.GetFiles(folder, "*.cs")
            .SelectMany(f => File.ReadAllLines(f).Select((line, i) => (File: Path.GetFileName(f), Line: i + 1, Text: line)))
            .Where(l => !l.Text.TrimStart().StartsWith("//", StringComparison.Ordinal) && NumberAsScalar().IsMatch(l.Text))
            .Select(l => $"{l.File}:{l.Line}: {l.Text.Trim()}")
            .ToList();
        Assert.True(offences.Count == 0, "Numbers passed as TorchSharp scalars (use Scalars):" + Environment.NewLine + string.Join(Environment.NewLine, offences));
    }

    /// <summary>A Scalar-taking tensor method called with a literal (or a negated one, a bool, a double/float
    /// constant).</summary>
    [GeneratedRegex(@"\.(masked_fill_?|clamp(_min|_max)?_?|eq|ne|gt|lt|ge|le|fill_|add_?|sub_?|mul_?|div_?|pow_?)\((\s*[^()]*,\s*)?(-?\d|!|true\b|false\b|double\.|float\.)|\bfull\(\[[^\]]*\],\s*(-?\d|!|true\b|false\b|double\.)")]
    private static partial Regex NumberAsScalar();
}
