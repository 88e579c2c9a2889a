using System.Runtime.InteropServices;

namespace SpectralAlign.IntegrationTests.Support;

/// <summary>
/// A fact that runs only on linux-x64, the platform of TorchSharp's patched native library; elsewhere it is reported
/// as skipped with the reason, never passed without checking anything. (xunit 2 decides skips when tests are
/// discovered, so the attribute sets <see cref="FactAttribute.Skip"/> in its constructor.)
/// </summary>
[AttributeUsage(AttributeTargets.Method, AllowMultiple = false)]
public sealed class LinuxX64FactAttribute : FactAttribute
{
    public LinuxX64FactAttribute()
    {
        if (!IsLinuxX64)
            Skip = $"Needs linux-x64 (this is {RuntimeInformation.OSDescription}, {RuntimeInformation.OSArchitecture}): the native-load fix patches TorchSharp's linux-x64 libLibTorchSharp.so only.";
    }

    public static bool IsLinuxX64 => OperatingSystem.IsLinux() && RuntimeInformation.OSArchitecture == Architecture.X64;
}
