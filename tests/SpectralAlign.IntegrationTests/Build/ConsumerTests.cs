using System.Diagnostics;
using SpectralAlign.IntegrationTests.Support;
using Xunit.Abstractions;

namespace SpectralAlign.IntegrationTests.Build;

/// <summary>
/// Someone who has only the package: a brand-new console project outside the repository references SpectralAlign
/// from a local feed and TorchSharp-cpu from NuGet, builds, and runs a short monitored training loop. This proves the
/// package, its dependencies and the transitive native-load fix (buildTransitive/SpectralAlign.targets) together.
/// </summary>
[Collection(PackageCollection.Name)]
public sealed class ConsumerTests(PackageFixture package, ITestOutputHelper output)
{
    private const string Marker = "SPECTRALALIGN-CONSUMER";
    private const int Steps = 20;
    private const string TfmOfConsumer = "net10.0";

    /// <summary>On linux-x64 only: the consumer's output must also hold the patched native library, and TorchSharp's
    /// CPU package has no other runtime this machine could check.</summary>
    [LinuxX64Fact]
    public void NewConsoleProject_ReferencingThePackage_BuildsRunsAndMeasures()
    {
        string app = Path.Combine(package.Root, "consumer");
        Directory.CreateDirectory(app);
        WriteConsumer(app);
        var clock = Stopwatch.StartNew();

        // Build (restoring from the local feed and NuGet): the package's buildTransitive targets patch the consumer's
        // own output copy of libLibTorchSharp.so.
        var (code, stdout, stderr) = BuildTools.Run(BuildTools.Dotnet(), ["build", "-c", "Release", "-nologo", "-v:n"], timeoutSeconds: 600, workingDirectory: app);
        Assert.True(code == 0, $"consumer build failed ({code}):\n{stdout}\n{stderr}");
        Assert.DoesNotContain("SpectralAlign native fix could not process", stdout, StringComparison.Ordinal);
        output.WriteLine($"build: {clock.Elapsed.TotalSeconds:F0} s");

        // NuGet imported the package's targets into the consumer (a direct reference uses buildTransitive/ too).
        string nugetTargets = File.ReadAllText(Path.Combine(app, "obj", "Consumer.csproj.nuget.g.targets"));
        Assert.Contains($"spectralalign/{package.Version.ToLowerInvariant()}/buildTransitive/SpectralAlign.targets", nugetTargets, StringComparison.Ordinal);

        string bin = Path.Combine(app, "bin", "Release", TfmOfConsumer);
        string native = Path.Combine(bin, "runtimes", "linux-x64", "native", "libLibTorchSharp.so");
        Assert.True(File.Exists(native), $"{native} is missing");
        Assert.Equal("WEAK", BuildTools.GlibcxxFlags(native));

        // Run the monitored training loop.
        clock.Restart();
        (code, stdout, stderr) = BuildTools.Run(BuildTools.Dotnet(), [Path.Combine(bin, "Consumer.dll")], timeoutSeconds: 300, workingDirectory: app);
        output.WriteLine($"run: {clock.Elapsed.TotalSeconds:F0} s\n{stdout}");
        Assert.True(code == 0, $"consumer run failed ({code}):\n{stdout}\n{stderr}");
        string line = Assert.Single(stdout.Split('\n'), l => l.StartsWith(Marker, StringComparison.Ordinal)).Trim();
        // Two Linear layers, every step measured (Interval = 1), every measurement with sampled rows.
        Assert.Equal($"{Marker} layers=2 measured={2 * Steps} withRows={2 * Steps} steps={Steps}", line);
    }

    [LinuxX64Fact]
    public void OptOutProperty_LeavesTheConsumersNativeLibraryAlone()
    {
        string app = Path.Combine(package.Root, "consumer-optout");
        Directory.CreateDirectory(app);
        WriteConsumer(app);

        var (code, stdout, stderr) = BuildTools.Run(BuildTools.Dotnet(),
            ["build", "-c", "Release", "-nologo", "-p:SpectralAlignPatchTorchSharpNative=false"], timeoutSeconds: 600, workingDirectory: app);
        Assert.True(code == 0, $"consumer build failed ({code}):\n{stdout}\n{stderr}");
        string native = Path.Combine(app, "bin", "Release", TfmOfConsumer, "runtimes", "linux-x64", "native", "libLibTorchSharp.so");
        Assert.Equal("none", BuildTools.GlibcxxFlags(native));
    }

    /// <summary>The consumer project: its own nuget.config (the local feed for SpectralAlign, NuGet for the rest),
    /// empty Directory.Build files so that nothing above the temp folder leaks in, a project and a program.</summary>
    private void WriteConsumer(string app)
    {
        File.WriteAllText(Path.Combine(app, "nuget.config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <clear />
                <add key="local" value="{package.Feed}" />
                <add key="nuget.org" value="https://api.nuget.org/v3/index.json" protocolVersion="3" />
              </packageSources>
              <packageSourceMapping>
                <packageSource key="local">
                  <package pattern="SpectralAlign" />
                </packageSource>
                <packageSource key="nuget.org">
                  <package pattern="*" />
                </packageSource>
              </packageSourceMapping>
            </configuration>
            """);
        File.WriteAllText(Path.Combine(app, "Directory.Build.props"), "<Project />\n");
        File.WriteAllText(Path.Combine(app, "Directory.Build.targets"), "<Project />\n");
        File.Copy(Path.Combine(package.Repository, "global.json"), Path.Combine(app, "global.json"));

        File.WriteAllText(Path.Combine(app, "Consumer.csproj"), $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <OutputType>Exe</OutputType>
                <TargetFramework>{TfmOfConsumer}</TargetFramework>
                <Nullable>enable</Nullable>
                <ImplicitUsings>enable</ImplicitUsings>
              </PropertyGroup>
              <ItemGroup>
                <PackageReference Include="SpectralAlign" Version="{package.Version}" />
                <PackageReference Include="TorchSharp-cpu" Version="{package.PinnedVersion("TorchSharp-cpu")}" />
              </ItemGroup>
            </Project>
            """);

        File.WriteAllText(Path.Combine(app, "Program.cs"), $$"""
            using SpectralAlign;
            using TorchSharp;
            using static TorchSharp.torch;

            manual_seed(7);
            var model = nn.Sequential(("fc1", nn.Linear(8, 32)), ("act", nn.ReLU()), ("fc2", nn.Linear(32, 1)));
            var optimizer = optim.Adam(model.parameters(), 1e-2);
            var lossFn = nn.MSELoss();

            using var monitor = new SpectralMonitor(new SpectralMonitorOptions { Interval = 1 });
            var watches = monitor.WatchAll(model);
            int measured = 0, withRows = 0;
            monitor.Measured += (_, m) => { measured++; if (m.Stats.Count > 0) withRows++; };

            for (int step = 0; step < {{Steps}}; step++)
            {
                using var scope = NewDisposeScope();
                optimizer.zero_grad();
                var x = randn(64, 8);
                var loss = lossFn.call(model.call(x), x.sum(1, keepdim: true));
                loss.backward();
                optimizer.step();
                monitor.Step();
            }

            Console.WriteLine($"{{Marker}} layers={watches.Count} measured={measured} withRows={withRows} steps={monitor.CurrentStep}");
            """);
    }
}
