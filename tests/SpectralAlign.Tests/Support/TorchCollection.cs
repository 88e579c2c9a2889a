namespace SpectralAlign.Tests.Support;

/// <summary>
/// Every test that touches torch (global seed, thread settings, live-tensor counters) runs in this one
/// non-parallel collection.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class TorchCollection
{
    public const string Name = "Torch";
}
