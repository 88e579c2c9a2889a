using TorchSharp;

namespace SpectralAlign.Scenarios;

/// <summary>
/// The constant scalar operands the scenarios pass to TorchSharp, created once and reachable for the life of the
/// process, each of the type TorchSharp's own shorthand would create (so every native call gets the same value).
/// </summary>
/// <remarks>
/// A number passed where TorchSharp takes a <see cref="Scalar"/> (<c>t * 0.5</c>, <c>t + 1e-6</c>), and the
/// shorthands that make one inside TorchSharp (<c>Tensor + Tensor</c> and <c>add(Tensor)</c> pass alpha = (int)1,
/// <c>square()</c> passes <c>pow((int)2)</c>, <c>arange(stop)</c> passes start (int)0 and step (int)1), create a
/// temporary <see cref="Scalar"/> that TorchSharp does not keep alive across the native call: a garbage collection
/// on another thread (the monitor's, a test's) can free it while libtorch reads it ("Expected false to be true",
/// "Unknown scalar type"). The scenarios therefore pass these instances, or a <see cref="Scalar"/> kept with
/// <c>using</c>; ScalarLifetimeTests reads the compiled Scenarios assembly and fails on any temporary.
/// </remarks>
internal static class KeptScalars
{
    /// <summary>(int)0: the start TorchSharp's <c>arange(stop)</c> passes.</summary>
    public static readonly Scalar IntZero = 0.ToScalar();

    /// <summary>(int)1: the alpha of TorchSharp's <c>Tensor + Tensor</c> / <c>add(Tensor)</c> / <c>add(Scalar)</c>
    /// and the step of its <c>arange(stop)</c>.</summary>
    public static readonly Scalar IntOne = 1.ToScalar();

    /// <summary>(int)2: the exponent of TorchSharp's <c>square()</c>.</summary>
    public static readonly Scalar IntTwo = 2.ToScalar();
}
