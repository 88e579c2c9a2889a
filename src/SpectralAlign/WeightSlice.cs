namespace SpectralAlign;

/// <summary>A range of output rows of a weight, measured as its own view named <c>{watch name}.{Name}</c>
/// (e.g. the q, k and v parts of a fused qkv projection).</summary>
/// <param name="Name">Suffix of the view's name.</param>
/// <param name="Start">First row of the weight (0-based).</param>
/// <param name="Length">Number of rows.</param>
public readonly record struct WeightSlice(string Name, int Start, int Length);
