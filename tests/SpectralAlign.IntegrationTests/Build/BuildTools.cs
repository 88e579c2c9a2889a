using System.Diagnostics;

namespace SpectralAlign.IntegrationTests.Build;

/// <summary>Helpers for the build and packaging tests: the repository's files, external processes, readelf.</summary>
internal static class BuildTools
{
    /// <summary>The repository root: the first folder above the test output that holds SpectralAlign.sln.</summary>
    public static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "SpectralAlign.sln")))
                return dir.FullName;
        }

        throw new DirectoryNotFoundException("SpectralAlign.sln not found above the test output folder.");
    }

    /// <summary>The packaged native-load fix, src/SpectralAlign/buildTransitive/SpectralAlign.targets.</summary>
    public static string TargetsFile() =>
        Path.Combine(RepositoryRoot(), "src", "SpectralAlign", "buildTransitive", "SpectralAlign.targets");

    /// <summary>The NuGet global packages folder (NUGET_PACKAGES, or ~/.nuget/packages).</summary>
    public static string PackagesFolder() =>
        Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } custom
            ? custom
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");

    /// <summary>The dotnet executable running these tests (the SDK sets DOTNET_HOST_PATH), else the one on PATH.</summary>
    public static string Dotnet() =>
        Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host) ? host : "dotnet";

    /// <summary>The flags readelf prints for the GLIBCXX_3.4.32 entry of .gnu.version_r ("none" or "WEAK").</summary>
    public static string GlibcxxFlags(string path)
    {
        var (code, stdout, stderr) = Run("readelf", ["-V", path], timeoutSeconds: 60);
        Assert.True(code == 0, $"readelf failed: {stderr}");
        var line = stdout.Split('\n').Single(l => l.Contains("Name: GLIBCXX_3.4.32", StringComparison.Ordinal));
        int at = line.IndexOf("Flags:", StringComparison.Ordinal) + "Flags:".Length;
        return line[at..].Trim().Split(' ', StringSplitOptions.RemoveEmptyEntries)[0];
    }

    /// <summary>
    /// Runs a program to completion and returns its exit code and output. MSBuild node reuse is off, so that no build
    /// server outlives the test, and variables that an enclosing 'dotnet test' may have set for its own MSBuild are
    /// removed, so that a child build behaves like one started from a shell.
    /// </summary>
    public static (int Code, string Stdout, string Stderr) Run(
        string file, IEnumerable<string> arguments, int timeoutSeconds, string? workingDirectory = null)
    {
        var info = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Environment.CurrentDirectory,
        };
        foreach (string argument in arguments)
            info.ArgumentList.Add(argument);
        info.Environment["MSBUILDDISABLENODEREUSE"] = "1";
        info.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        info.Environment["DOTNET_NOLOGO"] = "1";
        foreach (string inherited in new[] { "MSBuildExtensionsPath", "MSBuildSDKsPath", "MSBUILD_EXE_PATH", "MSBuildLoadMicrosoftTargetsReadOnly" })
            info.Environment.Remove(inherited);

        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeoutSeconds * 1000))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} {string.Join(' ', arguments)} did not finish in {timeoutSeconds} s");
        }

        return (process.ExitCode, stdout.Result, stderr.Result);
    }
}
