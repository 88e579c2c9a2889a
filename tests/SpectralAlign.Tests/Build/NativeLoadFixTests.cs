using System.Diagnostics;
using System.Runtime.InteropServices;

namespace SpectralAlign.Tests.Build;

/// <summary>
/// The build's TorchSharp native-load fix (src/SpectralAlign/buildTransitive/SpectralAlign.targets), checked with
/// binutils' readelf as the independent reference.
/// </summary>
public sealed class NativeLoadFixTests
{
    private const string Library = "libLibTorchSharp.so";

    [Fact]
    public void Build_TestOutputCopy_HasWeakGlibcxx3432Requirement()
    {
        if (!OperatingSystem.IsLinux())
            return;
        string path = Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native", Library);
        Assert.True(File.Exists(path), $"{path} is missing");
        Assert.Equal("WEAK", GlibcxxFlags(path));
    }

    [Fact]
    public void Target_RunTwiceOnAFreshCopy_ChangesOneByteOnce_LeavesPackageCacheAlone()
    {
        if (!OperatingSystem.IsLinux() || RuntimeInformation.OSArchitecture != Architecture.X64)
            return;
        string original = Path.Combine(PackagesFolder(), "torchsharp", "0.107.0", "runtimes", "linux-x64", "native", Library);
        Assert.True(File.Exists(original), $"{original} is missing");
        byte[] originalBytes = File.ReadAllBytes(original);
        Assert.Equal("none", GlibcxxFlags(original));

        string dir = Directory.CreateTempSubdirectory("spectralalign-nativefix-").FullName;
        try
        {
            string output = Path.Combine(dir, "bin") + "/";
            string copy = Path.Combine(output, "runtimes", "linux-x64", "native", Library);
            Directory.CreateDirectory(Path.GetDirectoryName(copy)!);
            File.Copy(original, copy);
            var stamp = new DateTime(2026, 1, 2, 3, 4, 5, DateTimeKind.Utc);
            File.SetLastWriteTimeUtc(copy, stamp);
            string project = Path.Combine(dir, "probe.proj");
            File.WriteAllText(project, $"""
                <Project>
                  <Import Project="{TargetsFile()}" />
                  <Target Name="Patch" DependsOnTargets="SpectralAlignPatchTorchSharpNativeAfterBuild" />
                </Project>
                """);

            RunMsBuild(project, output);
            byte[] once = File.ReadAllBytes(copy);
            RunMsBuild(project, output);
            byte[] twice = File.ReadAllBytes(copy);

            Assert.Equal("WEAK", GlibcxxFlags(copy));
            Assert.Equal(originalBytes.Length, once.Length);
            Assert.Equal(1, originalBytes.Zip(once).Count(p => p.First != p.Second));
            Assert.Equal(once, twice);
            Assert.Equal(stamp, File.GetLastWriteTimeUtc(copy));
            Assert.Equal(originalBytes, File.ReadAllBytes(original));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>The flags readelf prints for the GLIBCXX_3.4.32 entry of .gnu.version_r.</summary>
    private static string GlibcxxFlags(string path)
    {
        var (code, stdout, stderr) = Run("readelf", $"-V \"{path}\"", timeoutSeconds: 60);
        Assert.True(code == 0, $"readelf failed: {stderr}");
        var line = stdout.Split('\n').Single(l => l.Contains("Name: GLIBCXX_3.4.32", StringComparison.Ordinal));
        int at = line.IndexOf("Flags:", StringComparison.Ordinal) + "Flags:".Length;
        return line[at..].Trim().Split(' ', StringSplitOptions.RemoveEmptyEntries)[0];
    }

    private static void RunMsBuild(string project, string outDir)
    {
        var (code, stdout, stderr) = Run("dotnet", $"msbuild \"{project}\" -t:Patch -p:OutDir=\"{outDir}\" -nologo -v:m", timeoutSeconds: 300);
        Assert.True(code == 0, $"msbuild failed ({code}):\n{stdout}\n{stderr}");
    }

    private static string TargetsFile()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, "src", "SpectralAlign", "buildTransitive", "SpectralAlign.targets");
            if (File.Exists(candidate))
                return candidate;
        }

        throw new FileNotFoundException("SpectralAlign.targets not found above the test output folder.");
    }

    private static string PackagesFolder() =>
        Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } custom
            ? custom
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");

    private static (int Code, string Stdout, string Stderr) Run(string file, string arguments, int timeoutSeconds)
    {
        var info = new ProcessStartInfo(file, arguments) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.Environment["MSBUILDDISABLENODEREUSE"] = "1";
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeoutSeconds * 1000))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} {arguments} did not finish in {timeoutSeconds} s");
        }

        return (process.ExitCode, stdout.Result, stderr.Result);
    }
}
