namespace SpectralAlign.Tests.Support;

/// <summary>The repository's source files, for tests that check rules about the code itself.</summary>
internal static class SourceTree
{
    /// <summary>The repository root: the nearest folder above the test binaries that holds SpectralAlign.sln.</summary>
    public static string Root()
    {
        var root = new DirectoryInfo(AppContext.BaseDirectory);
        while (root is not null && !File.Exists(Path.Combine(root.FullName, "SpectralAlign.sln")))
            root = root.Parent;
        Assert.NotNull(root);
        return root!.FullName;
    }
}
