using static TorchSharp.torch;

namespace SpectralAlign.Guard.Remedies;

/// <summary>Finds, in a tensor laid out like a parameter (an optimizer moment, a snapshot's copy), the elements that a
/// view of that parameter covers.</summary>
internal static class TensorRegion
{
    /// <summary>The part of <paramref name="other"/> at the position <paramref name="view"/> has inside
    /// <paramref name="owner"/>, as a view of <paramref name="other"/>; <c>null</c> when <paramref name="other"/> is not
    /// laid out like <paramref name="owner"/> (shape and strides) or the view is not inside the owner.</summary>
    public static Tensor? Corresponding(Tensor view, Tensor owner, Tensor other)
    {
        if (!other.shape.SequenceEqual(owner.shape) || !other.stride().SequenceEqual(owner.stride()))
            return null;
        long offset = view.storage_offset() - owner.storage_offset();
        if (offset < 0 || offset + view.numel() > owner.numel())
            return null;
        return other.as_strided(view.shape, view.stride(), other.storage_offset() + offset);
    }
}
