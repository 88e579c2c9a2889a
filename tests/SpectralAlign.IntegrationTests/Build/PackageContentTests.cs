using System.IO.Compression;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.Versioning;
using System.Xml.Linq;

namespace SpectralAlign.IntegrationTests.Build;

/// <summary>
/// What 'dotnet pack' puts into SpectralAlign.&lt;version&gt;.nupkg and .snupkg: the files, the nuspec's metadata and
/// dependencies, the XML documentation.
/// </summary>
[Collection(PackageCollection.Name)]
public sealed class PackageContentTests(PackageFixture package)
{
    private static readonly Assembly Library = typeof(SpectralMonitor).Assembly;

    /// <summary>The library's target framework as a package folder name, e.g. net10.0.</summary>
    private static readonly string Tfm = TfmOf(Library);

    [Fact]
    public void Pack_ProducesThePackageAndASymbolsPackage_WithoutWarnings()
    {
        Assert.True(File.Exists(package.Package), $"{package.Package} is missing:\n{package.PackOutput}");
        Assert.True(File.Exists(package.SymbolsPackage), $"{package.SymbolsPackage} is missing:\n{package.PackOutput}");
        Assert.DoesNotContain("warning", package.PackOutput, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void Package_HoldsExactlyTheLibraryItsDocsTheReadmeAndTheBuildTransitiveTargets()
    {
        using var zip = ZipFile.OpenRead(package.Package);
        var files = zip.Entries.Select(e => e.FullName)
            .Where(n => !n.StartsWith("_rels/", StringComparison.Ordinal) && !n.StartsWith("package/", StringComparison.Ordinal) && n != "[Content_Types].xml")
            .Order(StringComparer.Ordinal)
            .ToArray();
        string[] expected =
        [
            "README.md",
            "SpectralAlign.nuspec",
            "buildTransitive/SpectralAlign.targets",
            $"lib/{Tfm}/SpectralAlign.dll",
            $"lib/{Tfm}/SpectralAlign.xml",
        ];
        Assert.Equal(expected.Order(StringComparer.Ordinal), files);

        // The packaged files are the repository's own.
        Assert.Equal(File.ReadAllBytes(Path.Combine(package.Repository, "README.md")), Read(zip, "README.md"));
        Assert.Equal(File.ReadAllBytes(BuildTools.TargetsFile()), Read(zip, "buildTransitive/SpectralAlign.targets"));
        Assert.Equal(AssemblyName.GetAssemblyName(Library.Location).FullName,
            AssemblyNameOf(Read(zip, $"lib/{Tfm}/SpectralAlign.dll")).FullName);
    }

    [Fact]
    public void Nuspec_HasCompleteMetadata()
    {
        var metadata = Nuspec().Root!.Elements().Single(e => e.Name.LocalName == "metadata");
        string Value(string name) => metadata.Elements().SingleOrDefault(e => e.Name.LocalName == name)?.Value ?? "";
        XElement Element(string name) => metadata.Elements().Single(e => e.Name.LocalName == name);

        Assert.Equal("SpectralAlign", Value("id"));
        Assert.Equal(package.Version, Value("version"));
        Assert.False(string.IsNullOrWhiteSpace(Value("authors")));
        Assert.Contains("TorchSharp", Value("description"), StringComparison.Ordinal);
        Assert.Contains("torchsharp", Value("tags").Split(' '));
        Assert.Equal("expression", (string?)Element("license").Attribute("type"));
        Assert.Equal("MIT", Value("license"));
        Assert.Equal("README.md", Value("readme"));
        Assert.True(Uri.TryCreate(Value("projectUrl"), UriKind.Absolute, out _), $"projectUrl '{Value("projectUrl")}'");
        Assert.False(string.IsNullOrWhiteSpace(Value("copyright")));

        // SourceLink: built from a git clone, the nuspec records the commit (and the URL when the clone has a remote).
        if (Directory.Exists(Path.Combine(package.Repository, ".git")) || File.Exists(Path.Combine(package.Repository, ".git")))
        {
            var repository = Element("repository");
            Assert.Equal("git", (string?)repository.Attribute("type"));
            Assert.Matches("^[0-9a-f]{40}$", (string?)repository.Attribute("commit") ?? "");
        }
    }

    [Fact]
    public void Nuspec_DependsOnlyOnTorchSharpLoggingAbstractionsAndMathNet()
    {
        var metadata = Nuspec().Root!.Elements().Single(e => e.Name.LocalName == "metadata");
        var groups = metadata.Elements().Single(e => e.Name.LocalName == "dependencies").Elements().ToArray();
        var group = Assert.Single(groups);
        Assert.Equal(Tfm, (string?)group.Attribute("targetFramework"), ignoreCase: true);

        var dependencies = group.Elements()
            .ToDictionary(d => (string)d.Attribute("id")!, d => (string)d.Attribute("version")!, StringComparer.Ordinal);
        // The plain TorchSharp package (no native backend: the application picks TorchSharp-cpu or a CUDA package);
        // no analyzer, SourceLink, test, plotting or runtime package.
        string[] expected = ["MathNet.Numerics", "Microsoft.Extensions.Logging.Abstractions", "TorchSharp"];
        Assert.Equal(expected, dependencies.Keys.Order(StringComparer.Ordinal));
        foreach (string id in expected)
            Assert.Equal(package.PinnedVersion(id), dependencies[id]);
    }

    [Fact]
    public void XmlDocs_DocumentEveryPublicTypeAndMember()
    {
        using var zip = ZipFile.OpenRead(package.Package);
        var documented = LoadXml(zip, $"lib/{Tfm}/SpectralAlign.xml")
            .Descendants("member")
            .Where(m => m.Element("summary") is not null || m.Element("inheritdoc") is not null)
            .Select(m => (string)m.Attribute("name")!)
            .ToHashSet(StringComparer.Ordinal);

        var missing = new List<string>();
        foreach (var type in Library.GetExportedTypes())
        {
            string typeId = DocName(type);
            if (!documented.Contains("T:" + typeId))
                missing.Add("T:" + typeId);
            const BindingFlags Declared = BindingFlags.Public | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;
            foreach (var member in type.GetMembers(Declared))
            {
                string? id = member switch
                {
                    PropertyInfo p when p.GetIndexParameters().Length == 0 => "P:" + typeId + "." + p.Name,
                    FieldInfo f when !f.IsSpecialName => "F:" + typeId + "." + f.Name,
                    EventInfo e => "E:" + typeId + "." + e.Name,
                    _ => null,
                };
                if (id is not null && !member.IsDefined(typeof(CompilerGeneratedAttribute)) && !documented.Contains(id))
                    missing.Add(id);
            }
        }

        Assert.True(missing.Count == 0, "Undocumented public API in the packaged XML docs:\n" + string.Join('\n', missing));
        Assert.Contains("M:SpectralAlign.SpectralMonitor.Step", documented);
    }

    [Fact]
    public void SymbolsPackage_HoldsThePortablePdb()
    {
        using var zip = ZipFile.OpenRead(package.SymbolsPackage);
        byte[] pdb = Read(zip, $"lib/{Tfm}/SpectralAlign.pdb");
        Assert.Equal("BSJB"u8.ToArray(), pdb[..4]);   // portable PDB metadata signature
    }

    private XDocument Nuspec()
    {
        using var zip = ZipFile.OpenRead(package.Package);
        return LoadXml(zip, "SpectralAlign.nuspec");
    }

    private static byte[] Read(ZipArchive zip, string name)
    {
        var entry = zip.GetEntry(name) ?? throw new FileNotFoundException($"{name} is not in the package");
        using var stream = entry.Open();
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }

    private static XDocument LoadXml(ZipArchive zip, string name)
    {
        using var stream = new MemoryStream(Read(zip, name));
        return XDocument.Load(stream);   // honours a byte-order mark, unlike parsing a decoded string
    }

    private static AssemblyName AssemblyNameOf(byte[] image)
    {
        string temp = Path.Combine(Path.GetTempPath(), $"spectralalign-{Guid.NewGuid():N}.dll");
        try
        {
            File.WriteAllBytes(temp, image);
            return AssemblyName.GetAssemblyName(temp);
        }
        finally
        {
            File.Delete(temp);
        }
    }

    private static string DocName(Type type) => (type.FullName ?? type.Name).Replace('+', '.');

    private static string TfmOf(Assembly assembly)
    {
        var framework = new FrameworkName(assembly.GetCustomAttribute<TargetFrameworkAttribute>()!.FrameworkName);
        return $"net{framework.Version.Major}.{framework.Version.Minor}";
    }
}
