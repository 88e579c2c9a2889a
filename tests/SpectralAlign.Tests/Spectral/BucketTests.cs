using SpectralAlign.Spectral;
using SpectralAlign.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace SpectralAlign.Tests.Spectral;

/// <summary>Layers of different output widths reading the same input width are measured as one stack (in runs of
/// equal output width); sharing the stack must not change any layer's result.</summary>
[Collection(TorchCollection.Name)]
public sealed class BucketTests
{
    private const int Bins = 20;

    [Theory]
    [InlineData(ScalarType.Float32)]
    [InlineData(ScalarType.BFloat16)]
    public void Step_LayersOfDifferentOutWidthsSharingInputWidth_EachMatchesItsOwnSvd(ScalarType dtype)
    {
        // Four shapes over n = 24, including m = 1 (rank 1) and m smaller than the subspace dimension; one bucket.
        int[] outWidths = [40, 8, 1, 3, 40];
        var layers = outWidths.Select((m, i) => Layers.Gapped(m, 24, dtype, seed: 100 + i)).ToArray();
        using var offset = Layers.Randn([1, 24], ScalarType.Float32, seed: 7);
        var inputs = layers.Select((_, i) => (Layers.Randn([150 + (10 * i), 24], ScalarType.Float32, seed: 200 + i) + 0.5 * offset).to(dtype)).ToArray();

        using var harness = new MonitorHarness(new SpectralMonitorOptions { Interval = 1, MaxSamplesPerLayer = 1000, HistogramBins = Bins, ResidualTolerance = 1e-5 });
        var watches = layers.Select((l, i) => harness.Monitor.Watch(l, $"layer{i}")).ToArray();
        harness.Step(1, [.. layers.Select((l, i) => ((nn.Module<Tensor, Tensor>)l, inputs[i]))]);

        for (int i = 0; i < layers.Length; i++)
            Reference.AssertMatchesSvd(layers[i].weight!, watches[i], inputs[i], harness.Last($"layer{i}"), Bins);

        foreach (var x in inputs) x.Dispose();
        foreach (var l in layers) l.Dispose();
    }

    [Theory]
    [InlineData(1.0)]    // the second measurement uses the weight unscaled (its last ‖W‖_F is in the safe range)
    [InlineData(1e25)]   // … and overflows after this jump, so the bucket is measured again, rescaled
    [InlineData(1e-25)]  // … or would lose precision: the lower bound sends it back to the scaled path next time
    public void Step_SecondMeasurementAfterWeightScaleChange_MatchesSvd(double factor)
    {
        using var layer = Layers.Gapped(24, 16, ScalarType.Float32, seed: 5);
        using var input = Layers.Randn([120, 16], ScalarType.Float32, seed: 6);
        using var harness = new MonitorHarness(new SpectralMonitorOptions { Interval = 1, MaxSamplesPerLayer = 1000, HistogramBins = Bins, ResidualTolerance = 1e-5 });
        using var watch = harness.Monitor.Watch(layer, "layer");
        harness.Step(1, (layer, input));
        using (no_grad())
            layer.weight!.mul_(factor);
        harness.Step(1, (layer, input));

        var m = harness.Last("layer");
        Assert.Equal(1, m.Step);
        Assert.False(m.Conditions.HasFlag(MeasurementConditions.NonFiniteWeight), m.Conditions.ToString());
        Reference.AssertMatchesSvd(layer.weight!, watch, input, m, Bins);
    }

    [Fact]
    public void Buckets_LayersSharingTheInputWidthShareOneStackOrderedByOutputWidth_DifferentInputWidthsNever()
    {
        var shapes = new (int Out, int In)[]
        {
            (64, 64), (176, 64), (64, 64), (90, 64),          // a transformer's q/k/v/o, FFN gate/up and LM head: one bucket
            (64, 176),                                        // different input width: its own
            (128, 512), (4096, 512), (128, 512), (128, 512),  // very different output widths: no padding, so one bucket too
        };
        using var weights = new DisposableList(shapes.Select(s => zeros(1, s.Out, s.In)));
        using var state = new SpectralState();
        var layers = shapes.Select((s, i) => new LayerInput($"l{i}", weights[i], null, 0, state)).ToList();

        var buckets = Bucketing.Buckets(layers, new SpectralMonitorOptions().SubspaceDimension).OrderBy(b => b.Min()).ToList();

        // Members ascend in output width (equal widths adjacent: the runs of WeightRuns).
        Assert.Equal(3, buckets.Count);
        Assert.Equal([0, 2, 3, 1], buckets[0]);
        Assert.Equal([4], buckets[1]);
        Assert.Equal([5, 7, 8, 6], buckets[2]);
    }

    private sealed class DisposableList(IEnumerable<Tensor> items) : IDisposable
    {
        private readonly List<Tensor> _items = items.ToList();

        public Tensor this[int index] => _items[index];

        public void Dispose()
        {
            foreach (var item in _items) item.Dispose();
        }
    }
}
