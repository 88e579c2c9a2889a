// No test runs beside another, in any collection: TorchSharp 0.107 does not keep a temporary Scalar alive during the
// native call that reads it (README, "Threading"), so a garbage collection started by another thread's allocations
// can finalise one mid-call inside a test's training loop (TorchSharp's own optimizers make such temporaries in
// step()). Tests that run concurrently on purpose (background measurement, threading, deadlock) start their own
// threads; what they allocate is part of what they test.
[assembly: CollectionBehavior(DisableTestParallelization = true)]

namespace SpectralAlign.Tests.Support;

/// <summary>
/// Every test that touches torch (global seed, thread settings, live-tensor counters) runs in this one
/// non-parallel collection (and, since the assembly disables parallel collections, never beside another test).
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class TorchCollection
{
    public const string Name = "Torch";
}
