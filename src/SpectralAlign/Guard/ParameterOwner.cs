using SpectralAlign.Spectral;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace SpectralAlign.Guard;

/// <summary>Finds the parameter a weight view shares its storage with (to edit its optimizer state and find its copy in
/// a snapshot).</summary>
internal static class ParameterOwner
{
    /// <summary>The first of <paramref name="candidates"/> whose storage holds <paramref name="view"/>, or
    /// <c>null</c>. Storage identity is compared directly for float32 and float64; for other dtypes (whose storage
    /// TorchSharp does not expose) a candidate qualifies when the view's position lies inside it and the elements there
    /// equal the view's.</summary>
    public static Parameter? Find(Tensor view, IEnumerable<Parameter> candidates)
    {
        foreach (var p in candidates)
        {
            if (p.dtype != view.dtype || p.device_type != view.device_type || p.device_index != view.device_index)
                continue;
            var same = SameStorage(p, view);
            if (same == false)
                continue;
            using var region = Remedies.TensorRegion.Corresponding(view, p, p);
            if (region is not null && (same == true || DeviceTransfer.Item<bool>(region.eq(view).all())))
                return p;
        }

        return null;
    }

    private static bool? SameStorage(Tensor a, Tensor b)
    {
        switch (a.dtype)
        {
            case ScalarType.Float32:
                using (var sa = a.storage<float>())
                using (var sb = b.storage<float>())
                    return sa.data_ptr() == sb.data_ptr();
            case ScalarType.Float64:
                using (var sa = a.storage<double>())
                using (var sb = b.storage<double>())
                    return sa.data_ptr() == sb.data_ptr();
            default:
                return null;
        }
    }
}
