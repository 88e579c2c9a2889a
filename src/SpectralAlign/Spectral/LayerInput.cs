using static TorchSharp.torch;

namespace SpectralAlign.Spectral;

/// <summary>
/// What <see cref="SpectralEngine.Measure"/> needs of one layer: its weight as G matrices (G, m, n) applied as x·Wᵀ,
/// the input rows it saw, and its <see cref="SpectralState"/>. The engine only reads the tensors (never writes or
/// disposes them); the caller keeps ownership of all three.
/// </summary>
internal sealed class LayerInput
{
    /// <param name="name">The layer's name (labels the measurement; seeds its cold start).</param>
    /// <param name="weight">(G, m, n), any floating dtype, any device; typically a view of the live parameter.</param>
    /// <param name="rows">(G, N, n) input rows (any floating dtype), or <c>null</c> when none were captured.</param>
    /// <param name="seenRows">Rows the layer saw before subsampling (reported as <see cref="LayerMeasurement.InputRows"/>).</param>
    /// <param name="state">The layer's state between measurements, owned by the caller.</param>
    /// <exception cref="ArgumentException">The shapes do not fit together.</exception>
    public LayerInput(string name, Tensor weight, Tensor? rows, long seenRows, SpectralState state)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(weight);
        ArgumentNullException.ThrowIfNull(state);
        var shape = weight.shape;   // read once: each read of a tensor's shape is a native call
        if (shape.Length != 3 || !weight.is_floating_point() || shape.Any(d => d == 0))
            throw new ArgumentException($"Layer '{name}': the weight must be a non-empty floating (G, m, n) tensor; it is {weight.dtype} [{string.Join(", ", shape)}].", nameof(weight));
        var rowShape = rows?.shape;
        if (rows is not null && (rowShape!.Length != 3 || !rows.is_floating_point() || rowShape[0] != shape[0] || rowShape[2] != shape[2]))
            throw new ArgumentException($"Layer '{name}': the rows must be a floating (G, N, n) tensor with G = {shape[0]} and n = {shape[2]}; they are {rows.dtype} [{string.Join(", ", rowShape)}].", nameof(rows));
        Groups = (int)shape[0];
        OutFeatures = (int)shape[1];
        InFeatures = (int)shape[2];
        RowCount = rowShape?[1] ?? 0;
        Name = name;
        Weight = weight;
        Rows = rows;
        SeenRows = seenRows;
        State = state;
    }

    public string Name { get; }

    public Tensor Weight { get; }

    public Tensor? Rows { get; }

    public long SeenRows { get; }

    public SpectralState State { get; }

    /// <summary>Index, in the same <see cref="SpectralEngine.Measure"/> call, of the layer whose output feeds this
    /// one (its <see cref="LayerMeasurement.UpstreamAlignment"/> is measured against that layer's u1), or -1 for none
    /// (the default). Set by the caller before the call.</summary>
    public int Upstream { get; set; } = -1;

    /// <summary>G.</summary>
    public int Groups { get; }

    /// <summary>m.</summary>
    public int OutFeatures { get; }

    /// <summary>n.</summary>
    public int InFeatures { get; }

    /// <summary>Rows present (N; 0 without rows).</summary>
    public long RowCount { get; }
}
