using SpectralAlign.Spectral;
using SpectralAlign.Tests.Support;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace SpectralAlign.Tests.Monitoring;

/// <summary><see cref="SpectralMonitor.Link"/>, auto-linking in <see cref="SpectralMonitor.WatchAll"/> and the
/// resulting <see cref="LayerMeasurement.UpstreamAlignment"/> through the monitor.</summary>
[Collection(TorchCollection.Name)]
public sealed class LinkTests
{
    /// <summary>0: Linear(6, 8), 1: ReLU, 2: Linear(8, 8), 3: LayerNorm, 4: Linear(8, 5), 5: Dropout, 6: GELU,
    /// 7: Linear(5, 3).</summary>
    private static Sequential Chain()
    {
        manual_seed(7);
        return nn.Sequential(
            nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 8), nn.LayerNorm(8),
            nn.Linear(8, 5), nn.Dropout(0.1), nn.GELU(), nn.Linear(5, 3));
    }

    [Fact]
    public void WatchAll_Sequential_AutoLinksExactlyTheCertainPairs()
    {
        using var model = Chain();
        using var input = Layers.Randn([32, 6], ScalarType.Float32, seed: 3);
        using var harness = new MonitorHarness(new SpectralMonitorOptions { Interval = 1, ResidualTolerance = 1e-5 });
        harness.Monitor.WatchAll(model);

        harness.Step(3, (model, input));

        var last = harness.Measurements.Where(m => m.Step == 2).ToDictionary(m => m.Layer, m => m.UpstreamAlignment);
        Assert.Equal(["0", "2", "4", "7"], last.Keys.Order());
        Assert.True(double.IsNaN(last["0"]));   // first layer
        Assert.True(double.IsNaN(last["4"]));   // after a LayerNorm: not certain, not linked
        var linear = model.modules().OfType<Linear>().ToArray();
        Assert.Equal(Reference.UpstreamAlignment(linear[0].weight!, linear[1].weight!), last["2"], 1e-3);   // through ReLU
        Assert.Equal(Reference.UpstreamAlignment(linear[2].weight!, linear[3].weight!), last["7"], 1e-3);   // through Dropout and GELU
    }

    [Fact]
    public void WatchAll_AutoLinkOff_NoLayerHasAnUpstream()
    {
        using var model = Chain();
        using var input = Layers.Randn([32, 6], ScalarType.Float32, seed: 3);
        using var harness = new MonitorHarness(new SpectralMonitorOptions { Interval = 1, AutoLink = false });
        harness.Monitor.WatchAll(model);

        harness.Step(2, (model, input));

        Assert.Equal(8, harness.Measurements.Count);
        Assert.All(harness.Measurements, m => Assert.True(double.IsNaN(m.UpstreamAlignment)));
    }

    [Fact]
    public void Link_CustomModule_ReportsTheSvdAlignmentUntilDisposed()
    {
        using var model = Training.Mlp(seed: 4, input: 12, hidden: 16, classes: 5);
        using var input = Layers.Randn([40, 12], ScalarType.Float32, seed: 5);
        using var harness = new MonitorHarness(new SpectralMonitorOptions { Interval = 1, ResidualTolerance = 1e-5 });
        harness.Monitor.WatchAll(model);   // a custom module: nothing is linked by itself
        var link = harness.Monitor.Link("fc2", "fc3");

        harness.Step(2, (model, input));
        link.Dispose();
        harness.Step(1, (model, input));

        var fc3 = harness.Of("fc3");
        Assert.Equal(Reference.UpstreamAlignment(model.fc2.weight!, model.fc3.weight!), fc3[1].UpstreamAlignment, 1e-3);
        Assert.True(double.IsNaN(fc3[2].UpstreamAlignment));
        Assert.All(harness.Of("fc2"), m => Assert.True(double.IsNaN(m.UpstreamAlignment)));
    }

    public static TheoryData<string, string, string> InvalidLinks => new()
    {
        { "nope", "fc2", "'nope' is not a watched layer" },
        { "fc1", "nope", "'nope' is not a watched layer" },
        { "fc2", "fc2", "cannot be linked to itself" },
        { "fc3", "fc2", "output width of 'fc3' (5) differs from the input width of 'fc2' (16)" },
        { "", "fc2", "'' is not a watched layer" },
    };

    [Theory]
    [MemberData(nameof(InvalidLinks))]
    public void Link_InvalidPair_ThrowsArgumentExceptionSayingWhy(string upstream, string downstream, string message)
    {
        using var model = Training.Mlp(seed: 4, input: 12, hidden: 16, classes: 5);
        using var monitor = new SpectralMonitor();
        monitor.WatchAll(model);

        var error = Assert.Throws<ArgumentException>(() => monitor.Link(upstream, downstream));

        Assert.Contains(message, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Link_GroupMismatch_ThrowsArgumentException()
    {
        using var grouped = nn.Conv1d(8, 8, 1, groups: 2);
        using var linear = nn.Linear(4, 8);
        using var monitor = new SpectralMonitor();
        monitor.Watch(grouped, "conv");
        monitor.Watch(linear, "linear");

        var error = Assert.Throws<ArgumentException>(() => monitor.Link("conv", "linear"));

        Assert.Contains("2 group(s)", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Link_AlreadyLinkedOrDisposed_Throws()
    {
        using var model = Training.Mlp(seed: 4, input: 12, hidden: 16, classes: 5);
        var monitor = new SpectralMonitor();
        monitor.WatchAll(model);
        using var first = monitor.Link("fc1", "fc2");

        var error = Assert.Throws<InvalidOperationException>(() => monitor.Link("fc1", "fc2"));
        Assert.Contains("already linked to the upstream layer 'fc1'", error.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentNullException>(() => monitor.Link(null!, "fc2"));
        monitor.Dispose();
        Assert.Throws<ObjectDisposedException>(() => monitor.Link("fc1", "fc2"));
    }

    [Fact]
    public void Unwatch_LinkedLayer_ForgetsTheLinkAndAllowsANewOne()
    {
        using var model = Training.Mlp(seed: 4, input: 12, hidden: 16, classes: 5);
        using var input = Layers.Randn([40, 12], ScalarType.Float32, seed: 5);
        using var harness = new MonitorHarness(new SpectralMonitorOptions { Interval = 1 });
        var watches = harness.Monitor.WatchAll(model);
        harness.Monitor.Link("fc1", "fc2");

        watches[0].Dispose();                                       // fc1
        harness.Step(1, (model, input));
        var fc2 = Assert.Single(harness.Of("fc2"));
        Assert.True(double.IsNaN(fc2.UpstreamAlignment));
        harness.Monitor.Watch(model.fc1, "fc1");
        using var again = harness.Monitor.Link("fc1", "fc2");     // the old link is gone, so this is not a duplicate
        harness.Step(1, (model, input));
        Assert.InRange(harness.Of("fc2")[^1].UpstreamAlignment, 0, 1);
    }

    [Fact]
    public void Link_StaleHandleDisposedAfterRelinking_KeepsTheNewLink()
    {
        using var model = Training.Mlp(seed: 4, input: 12, hidden: 16, classes: 5);
        using var input = Layers.Randn([40, 12], ScalarType.Float32, seed: 5);
        using var harness = new MonitorHarness(new SpectralMonitorOptions { Interval = 1, ResidualTolerance = 1e-5 });
        var watches = harness.Monitor.WatchAll(model);
        var stale = harness.Monitor.Link("fc1", "fc2");
        watches[0].Dispose();                                       // forgets fc1 and its link
        harness.Monitor.Watch(model.fc1, "fc1");
        using var current = harness.Monitor.Link("fc1", "fc2");

        stale.Dispose();                                            // the old handle's link is already gone
        harness.Step(2, (model, input));

        Assert.Equal(Reference.UpstreamAlignment(model.fc1.weight!, model.fc2.weight!), harness.Of("fc2")[^1].UpstreamAlignment, 1e-3);
    }

    [Fact]
    public void Step_LinkedLayers_OneTransferPerMeasuredStep()
    {
        using var model = Chain();
        using var input = Layers.Randn([32, 6], ScalarType.Float32, seed: 3);
        using var harness = new MonitorHarness(new SpectralMonitorOptions { Interval = 1 });
        harness.Monitor.WatchAll(model);
        harness.Step(3, (model, input));   // cold start, warm-up of the iteration hints

        var perStep = new List<long>();
        for (int step = 0; step < 10; step++)
        {
            using (no_grad())
            {
                using var scope = NewDisposeScope();
                model.call(input + (1e-3 * step));
            }

            long before = DeviceTransfer.Count;
            harness.Monitor.Step();
            perStep.Add(DeviceTransfer.Count - before);
        }

        Assert.All(perStep, n => Assert.Equal(1, n));
        Assert.False(double.IsNaN(harness.Of("2")[^1].UpstreamAlignment));
    }

    [Fact]
    public void Training_AutoLinkedSequential_IsBitIdenticalToUnmonitored()
    {
        static float[] Train(bool monitored, List<double> alignments)
        {
            manual_seed(99);
            using var scope = NewDisposeScope();
            var model = nn.Sequential(nn.Linear(10, 24), nn.ReLU(), nn.Dropout(0.2), nn.Linear(24, 24), nn.Tanh(), nn.Linear(24, 3));
            var x = randn(128, 10);
            var y = randint(0, 3, [128], dtype: ScalarType.Int64);
            using var optimizer = optim.Adam(model.parameters(), 5e-3);
            using var harness = monitored ? new MonitorHarness(new SpectralMonitorOptions { Interval = 2 }) : null;
            var monitor = harness?.Monitor;
            monitor?.WatchAll(model);
            for (int step = 0; step < 60; step++)
            {
                using var stepScope = NewDisposeScope();
                optimizer.zero_grad();
                var batch = randperm(128).narrow(0, 0, 32);
                nn.functional.cross_entropy(model.call(x[batch]), y[batch]).backward();
                optimizer.step();
                monitor?.Step();
            }

            alignments.AddRange(harness?.Measurements.Select(m => m.UpstreamAlignment) ?? []);
            return model.parameters().SelectMany(p => p.detach().cpu().data<float>().ToArray()).ToArray();
        }

        var alignments = new List<double>();
        var plain = Train(monitored: false, []);
        var watched = Train(monitored: true, alignments);

        Assert.Equal(plain, watched);
        Assert.Equal(90, alignments.Count);                               // 30 measured steps × 3 layers
        Assert.Equal(60, alignments.Count(a => a is >= 0 and <= 1));     // two linked layers per step
    }
}
