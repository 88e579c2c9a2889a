using SpectralAlign.Scenarios.Analysis;
using SpectralAlign.Scenarios.Evaluation;
using SpectralAlign.Tests.Support;

namespace SpectralAlign.Tests.Evaluation;

public sealed class JacobianAlignmentScoreTests
{
    [Fact]
    public void MaxUpstreamAlignment_HandExample_LargestLinkedLayerHeldBetweenMeasurements()
    {
        // Layer "a" is not linked (NaN); "b" has 0.3 at step 0 and 0.2 at step 5, "c" 0.1 and 0.7.
        var run = HorizonRuns.Make("f", "c", 1, steps: 8);
        static LayerMeasurement M(string layer, long step, double upstream) => Measurements.Bare(layer, step, upstream: upstream);
        var withLinks = new RunData
        {
            Header = run.Header,
            Steps = run.Steps,
            Measurements = new Dictionary<string, IReadOnlyList<LayerMeasurement>>(StringComparer.Ordinal)
            {
                ["a"] = [M("a", 0, double.NaN), M("a", 5, double.NaN)],
                ["b"] = [M("b", 0, 0.3), M("b", 5, 0.2)],
                ["c"] = [M("c", 0, 0.1), M("c", 5, 0.7)],
            },
            Alerts = [],
        };

        Assert.Equal([0.3, 0.3, 0.3, 0.3, 0.3, 0.7, 0.7, 0.7], RecordedScores.MaxUpstreamAlignment(withLinks));
    }

    [Fact]
    public void MaxUpstreamAlignment_NoLinkedLayer_IsNaNThroughout()
    {
        // HorizonRuns' layers carry no upstream link (UpstreamAlignment defaults to NaN).
        Assert.All(RecordedScores.MaxUpstreamAlignment(HorizonRuns.Make("f", "c", 1, steps: 12)), v => Assert.True(double.IsNaN(v)));
    }
}
