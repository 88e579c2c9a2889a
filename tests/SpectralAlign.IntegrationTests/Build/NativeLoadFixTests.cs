using SpectralAlign.IntegrationTests.Support;

namespace SpectralAlign.IntegrationTests.Build;

/// <summary>
/// The build's TorchSharp native-load fix (src/SpectralAlign/buildTransitive/SpectralAlign.targets), checked with
/// binutils' readelf as the independent reference.
/// </summary>
public sealed class NativeLoadFixTests
{
    private const string Library = "libLibTorchSharp.so";

    [LinuxX64Fact]
    public void Build_TestOutputCopy_HasWeakGlibcxx3432Requirement()
    {
        string path = Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native", Library);
        Assert.True(File.Exists(path), $"{path} is missing");
        Assert.Equal("WEAK", GlibcxxFlags(path));
    }

    [LinuxX64Fact]
    public void Target_RunTwiceOnAFreshCopy_ChangesOneByteOnce_LeavesPackageCacheAlone()
    {
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

    private static string GlibcxxFlags(string path) => BuildTools.GlibcxxFlags(path);

    private static string TargetsFile() => BuildTools.TargetsFile();

    private static string PackagesFolder() => BuildTools.PackagesFolder();

    private static void RunMsBuild(string project, string outDir)
    {
        var (code, stdout, stderr) = BuildTools.Run(
            BuildTools.Dotnet(), ["msbuild", project, "-t:Patch", $"-p:OutDir={outDir}", "-nologo", "-v:m"], timeoutSeconds: 300);
        Assert.True(code == 0, $"msbuild failed ({code}):\n{stdout}\n{stderr}");
    }
}
