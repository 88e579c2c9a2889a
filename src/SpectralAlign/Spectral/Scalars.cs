using TorchSharp;

namespace SpectralAlign.Spectral;

/// <summary>
/// The scalar operands the library passes to TorchSharp, created once and reachable for the life of the process.
/// </summary>
/// <remarks>
/// A C# number passed where TorchSharp takes a <see cref="Scalar"/> (<c>t.masked_fill(mask, 0)</c>, <c>t * 0.5</c>,
/// <c>t.clamp(-1, 1)</c>) becomes a temporary <see cref="Scalar"/> that owns a native object and is released only by
/// its finalizer. TorchSharp reads its handle and calls into libtorch without keeping the managed object alive, so a
/// garbage collection triggered by another thread during that call may finalize it and free the native scalar while
/// libtorch reads it: intermittent "Unknown scalar type" or "Expected false to be true" errors, or a wrong value.
/// Library code therefore passes these cached instances (or a <see cref="Scalar"/> it keeps alive with
/// <c>using</c>) and never a number.
/// <para>
/// TorchSharp 0.107 also makes such temporaries inside some of its own methods, where no caller can keep them
/// alive: <c>Tensor + Tensor</c> and <c>add(Tensor)</c> (alpha = 1), <c>Tensor + Scalar</c>, <c>square()</c>
/// (<c>pow(2)</c>), <c>linalg.vector_norm(t, double ord, …)</c>, <c>ToDouble()</c>/<c>ToBoolean()</c>, every
/// tensor-number operator, and the optimizers' <c>step()</c>. Library code uses the forms without a temporary:
/// <c>a.add(b, Scalars.One)</c>, <c>t.pow(Scalars.Two)</c>, <c>linalg.norm(t, dims, keepdim)</c> (order 2, the same
/// kernel as <c>vector_norm</c>) and <see cref="DeviceTransfer"/>. A test reads the compiled library and TorchSharp's
/// assembly and fails on any call that makes a temporary (ScalarLifetimeTests). See TorchSharp pull requests #1434
/// and #1496 (open) on disposing these temporaries.
/// </para>
/// </remarks>
internal static class Scalars
{
    public static readonly Scalar Zero = 0.0.ToScalar();

    public static readonly Scalar One = 1.0.ToScalar();

    public static readonly Scalar MinusOne = (-1.0).ToScalar();

    public static readonly Scalar Two = 2.0.ToScalar();

    public static readonly Scalar Half = 0.5.ToScalar();

    public static readonly Scalar NaN = double.NaN.ToScalar();

    public static readonly Scalar True = true.ToScalar();

    public static readonly Scalar False = false.ToScalar();
}
