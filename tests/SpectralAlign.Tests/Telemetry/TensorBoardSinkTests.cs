using SpectralAlign.Telemetry;
using SpectralAlign.Tests.Support;
using Tensorboard;
using TorchSharp;
using static TorchSharp.torch;

namespace SpectralAlign.Tests.Telemetry;

[Collection(TorchCollection.Name)]
public sealed class TensorBoardSinkTests
{
    /// <summary>Reads a TFRecord event file: [u64 length][u32 crc][Event bytes][u32 crc] per record.</summary>
    private static List<Event> ReadEvents(string directory)
    {
        var file = Assert.Single(Directory.GetFiles(directory, "events.out.tfevents.*"));
        var events = new List<Event>();
        using var reader = new BinaryReader(File.OpenRead(file));
        while (reader.BaseStream.Position < reader.BaseStream.Length)
        {
            long length = reader.ReadInt64();
            reader.ReadUInt32();
            events.Add(Event.Parser.ParseFrom(reader.ReadBytes((int)length)));
            reader.ReadUInt32();
        }

        return events;
    }

    [Fact]
    public void OnStep_WritesHistogramAndScalarsPerLayerAndStep_ReadableFromTheEventFile()
    {
        using var dir = new TempDirectory();
        var sink = new TensorBoardSink(new TensorBoardOptions { LogDirectory = dir.File("tb") });
        var reports = Reports.Run(3, alertStep: 20).ToList();

        foreach (var report in reports)
            sink.OnStep(report);

        var events = ReadEvents(dir.File("tb"));
        Assert.Equal("brain.Event:2", events[0].FileVersion);
        var values = events.Where(e => e.Summary is not null)
            .SelectMany(e => e.Summary.Value.Select(v => (Step: e.Step, Value: v)))
            .ToList();
        foreach (var m in reports.SelectMany(r => r.Measurements))
        {
            string prefix = $"spectral_alignment/{m.Layer}/";
            Assert.Equal(sink.Tag(m.Layer, "sa"), prefix + "sa");
            var at = values.Where(v => v.Step == m.Step && v.Value.Tag.StartsWith(prefix, StringComparison.Ordinal)).ToDictionary(v => v.Value.Tag[prefix.Length..], v => v.Value);
            Assert.Equal((float)m.Stats.Mean, at["sa_mean"].SimpleValue);
            Assert.Equal((float)m.Stats.SignDiversity, at["sign_diversity"].SimpleValue);
            Assert.Equal((float)m.SpectralNorm, at["spectral_norm"].SimpleValue);
            Assert.Equal((float)m.StableRank, at["stable_rank"].SimpleValue);

            // The histogram holds every sampled value and reproduces the monitor's bins over [-1, 1].
            var histo = at["sa"].Histo;
            Assert.Equal(m.Stats.Histogram.Sum(), histo.Num);
            Assert.Equal(m.Stats.Histogram.Sum(), histo.Bucket.Sum(), 6);
            var spread = TensorBoardSink.SpreadOverBins(m.Stats.Histogram);
            Assert.Equal(spread.Sum(), histo.Sum, 1e-9);
            Assert.Equal(spread.Min(), histo.Min, 1e-12);
            Assert.Equal(spread.Max(), histo.Max, 1e-12);
            // Mass on each side of zero (a bin edge of the monitor's histogram and a bucket limit of TensorBoard's).
            int half = m.Stats.Histogram.Count / 2;
            double negative = histo.Bucket.Where((_, i) => histo.BucketLimit[i] <= 0).Sum();
            Assert.Equal(m.Stats.Histogram.Take(half).Sum(), negative, 6);
        }

        var text = Assert.Single(values, v => v.Value.Tag.StartsWith("spectral_alignment/blocks.0/b/alerts", StringComparison.Ordinal));
        Assert.Equal(20, text.Step);
        Assert.Contains(AlertReasons.SignCollapse, text.Value.Tensor.StringVal[0].ToStringUtf8(), StringComparison.Ordinal);
        Assert.Equal(3 * 2 * 5 + 1, values.Count);
    }

    [Fact]
    public void OnStep_LiveMonitor_EveryMeasuredStepHasItsTags()
    {
        using var dir = new TempDirectory();
        using var layer = Layers.Gapped(8, 16, ScalarType.Float32, seed: 1);
        using var monitor = new SpectralMonitor(new SpectralMonitorOptions { Interval = 2 });
        monitor.Watch(layer, "blocks.0.attn.q");
        var sink = new TensorBoardSink(new TensorBoardOptions { LogDirectory = dir.File("tb"), TagPrefix = "sa" });
        using (monitor.AddSink(sink))
        {
            for (int step = 0; step < 5; step++)
            {
                using var scope = NewDisposeScope();
                using var noGrad = no_grad();
                layer.call(Layers.Randn([64, 16], ScalarType.Float32, seed: step));
                monitor.Step();
            }
        }

        var tagsByStep = ReadEvents(dir.File("tb")).Where(e => e.Summary is not null)
            .GroupBy(e => e.Step)
            .ToDictionary(g => g.Key, g => g.SelectMany(e => e.Summary.Value).Select(v => v.Tag).Order().ToArray());
        string[] expected = ["sa/blocks.0.attn.q/sa", "sa/blocks.0.attn.q/sa_mean", "sa/blocks.0.attn.q/sign_diversity", "sa/blocks.0.attn.q/spectral_norm", "sa/blocks.0.attn.q/stable_rank"];
        Assert.Equal([0L, 2, 4], tagsByStep.Keys.Order());
        Assert.All(tagsByStep.Values, tags => Assert.Equal(expected, tags));
    }

    [Fact]
    public void SpreadOverBins_ReproducesTheCounts()
    {
        int[] histogram = [3, 0, 1, 4];
        var values = TensorBoardSink.SpreadOverBins(histogram);
        Assert.Equal(8, values.Length);
        Assert.Equal(histogram, Enumerable.Range(0, 4).Select(b => values.Count(v => v >= -1 + b * 0.5 && v < -1 + (b + 1) * 0.5)));
    }

    [Fact]
    public void Constructor_InvalidOptions_ListsEveryProblem()
    {
        var ex = Assert.Throws<ArgumentException>(() => new TensorBoardSink(new TensorBoardOptions { LogDirectory = "", TagPrefix = "a b" }));
        Assert.Contains("2 problems", ex.Message, StringComparison.Ordinal);
    }
}
