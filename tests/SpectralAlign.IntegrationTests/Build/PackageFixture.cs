using System.Reflection;
using System.Xml.Linq;

namespace SpectralAlign.IntegrationTests.Build;

/// <summary>
/// The package tests' collection: run alone (they build, restore and run whole projects on a 2-core machine), sharing
/// one <see cref="PackageFixture"/>.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class PackageCollection : ICollectionFixture<PackageFixture>
{
    public const string Name = "Package";
}

/// <summary>
/// Packs the library, once for all package tests, into a temporary local feed with a unique pre-release version (so
/// that no NuGet cache can serve an older package under the same version). The package is made from the library build
/// that the test run itself built (dotnet pack --no-build), in the test run's configuration.
/// </summary>
public sealed class PackageFixture : IDisposable
{
    public PackageFixture()
    {
        Root = Path.Combine(Path.GetTempPath(), "spectralalign-package-" + Guid.NewGuid().ToString("N")[..12]);
        Feed = Path.Combine(Root, "feed");
        Directory.CreateDirectory(Feed);
        Version = "0.0.0-packagetest." + Guid.NewGuid().ToString("N");
        Configuration = typeof(PackageFixture).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Release";
        Repository = BuildTools.RepositoryRoot();

        var (code, stdout, stderr) = BuildTools.Run(BuildTools.Dotnet(),
        [
            "pack", Path.Combine(Repository, "src", "SpectralAlign", "SpectralAlign.csproj"),
            "-c", Configuration, "--no-build", "-o", Feed,
            $"-p:PackageVersion={Version}",
            $"-p:NuspecOutputPath={Path.Combine(Root, "nuspec")}",
            "-nologo",
        ], timeoutSeconds: 300);
        PackOutput = stdout + stderr;
        if (code != 0)
            throw new InvalidOperationException($"dotnet pack failed ({code}):\n{PackOutput}");

        Package = Path.Combine(Feed, $"SpectralAlign.{Version}.nupkg");
        SymbolsPackage = Path.Combine(Feed, $"SpectralAlign.{Version}.snupkg");
    }

    /// <summary>A temporary folder outside the repository for everything the package tests write.</summary>
    public string Root { get; }

    /// <summary>The local folder feed holding the package.</summary>
    public string Feed { get; }

    /// <summary>The package's unique version.</summary>
    public string Version { get; }

    public string Configuration { get; }

    public string Repository { get; }

    public string PackOutput { get; }

    public string Package { get; }

    public string SymbolsPackage { get; }

    /// <summary>The version that Directory.Packages.props pins for a package.</summary>
    public string PinnedVersion(string id) =>
        XDocument.Load(Path.Combine(Repository, "Directory.Packages.props"))
            .Descendants("PackageVersion")
            .Single(e => string.Equals((string?)e.Attribute("Include"), id, StringComparison.OrdinalIgnoreCase))
            .Attribute("Version")!.Value;

    public void Dispose()
    {
        DeleteQuietly(Root);
        // A consumer restore extracts the package into the global packages folder: remove this run's unique version.
        DeleteQuietly(Path.Combine(BuildTools.PackagesFolder(), "spectralalign", Version.ToLowerInvariant()));
    }

    internal static void DeleteQuietly(string path)
    {
        try
        {
            if (Directory.Exists(path))
                Directory.Delete(path, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
