using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using SpectralAlign.Detection;
using SpectralAlign.Tests.Support;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace SpectralAlign.Tests;

/// <summary>The public contract of <see cref="SpectralMonitor"/>: errors, lifetimes, events, bad data.</summary>
[Collection(TorchCollection.Name)]
public sealed class SpectralMonitorTests
{
    [Fact]
    public void Constructor_InvalidOptions_ListsEveryProblem()
    {
        var options = new SpectralMonitorOptions
        {
            Interval = 0,
            MaxSamplesPerLayer = 0,
            PowerIterations = 0,
            SubspaceDimension = 0,
            ResidualTolerance = 2,
            HistogramBins = 1,
            SilentHookSteps = 0,
            Detection = new DetectionOptions { ConsecutiveMeasurements = 0 },
        };
        var ex = Assert.Throws<ArgumentException>(() => new SpectralMonitor(options));
        Assert.Equal("options", ex.ParamName);
        foreach (var name in new[] { "Interval", "MaxSamplesPerLayer", "PowerIterations", "SubspaceDimension", "ResidualTolerance", "RestartResidual", "HistogramBins", "SilentHookSteps", "Detection.ConsecutiveMeasurements" })
            Assert.Contains(name, ex.Message, StringComparison.Ordinal);
        Assert.Contains("9 problems", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Constructor_CopiesOptions_LaterChangesHaveNoEffect()
    {
        var options = new SpectralMonitorOptions { Interval = 7 };
        using var monitor = new SpectralMonitor(options);
        options.Interval = 1;
        Assert.Equal(7, monitor.Options.Interval);
        Assert.False(monitor.IsMeasuredStep(1));
        Assert.True(monitor.IsMeasuredStep(14));
    }

    public static TheoryData<string> UnsupportedModules() => ["LayerNorm", "ConvTranspose2d", "Conv3d", "ReLU", "Embedding", "Sequential"];

    [Theory]
    [MemberData(nameof(UnsupportedModules))]
    public void Watch_ModuleWithoutMatrixWeight_ThrowsClearError(string kind)
    {
        using nn.Module module = kind switch
        {
            "LayerNorm" => nn.LayerNorm(8),
            "ConvTranspose2d" => nn.ConvTranspose2d(3, 4, 3),
            "Conv3d" => nn.Conv3d(3, 4, 3),
            "ReLU" => nn.ReLU(),
            "Embedding" => nn.Embedding(10, 8),
            _ => nn.Sequential(nn.Linear(4, 4)),
        };
        using var monitor = new SpectralMonitor();
        var ex = Assert.Throws<ArgumentException>(() => monitor.Watch(module, "m"));
        Assert.Equal("layer", ex.ParamName);
        Assert.Contains(module.GetType().Name, ex.Message, StringComparison.Ordinal);
        Assert.Contains("Linear", ex.Message, StringComparison.Ordinal);
        Assert.Empty(monitor.Watches);
    }

    [Fact]
    public void Watch_SameLayerTwiceOrSameNameTwiceOrEmptyName_Throws()
    {
        using var a = nn.Linear(4, 4);
        using var b = nn.Linear(4, 4);
        using var monitor = new SpectralMonitor();
        using var watch = monitor.Watch(a, "a");
        var again = Assert.Throws<InvalidOperationException>(() => monitor.Watch(a, "other"));
        Assert.Contains("already watched as 'a'", again.Message, StringComparison.Ordinal);
        Assert.Contains("Dispose", again.Message, StringComparison.Ordinal);
        Assert.Throws<InvalidOperationException>(() => monitor.Watch(b, "a"));
        Assert.Throws<ArgumentException>(() => monitor.Watch(b, " "));
        Assert.Throws<ArgumentNullException>(() => monitor.Watch(null!, "x"));
        Assert.Single(monitor.Watches);
    }

    [Fact]
    public void Dispose_ThenUse_ThrowsObjectDisposed_AndDisposesEveryWatch()
    {
        using var layer = nn.Linear(4, 4);
        var monitor = new SpectralMonitor();
        var watch = monitor.Watch(layer, "l");
        monitor.Dispose();
        monitor.Dispose(); // idempotent

        Assert.True(watch.IsDisposed);
        watch.Dispose();   // harmless
        Assert.Throws<ObjectDisposedException>(() => monitor.Step());
        Assert.Throws<ObjectDisposedException>(() => monitor.Watch(layer, "l"));
        Assert.Throws<ObjectDisposedException>(() => monitor.WatchAll(layer));
        using var input = ones(2, 4);
        using (no_grad())
            layer.call(input).Dispose();    // training goes on without the hook
    }

    [Fact]
    public void WatchAll_NestedModel_WatchesEveryLinearNamedByPath()
    {
        using var model = new Nested();
        using var monitor = new SpectralMonitor();
        var watches = monitor.WatchAll(model);
        var expected = model.named_modules().Where(m => m.module is Linear).Select(m => m.name).ToArray();
        Assert.Equal(expected, watches.Select(w => w.Name).ToArray());
        Assert.Contains("blocks.1.ffn.up", expected);
        Assert.Contains("head", expected);
        Assert.Equal(5, expected.Length);
    }

    [Fact]
    public void WatchAll_Filter_SelectsByNameAndType()
    {
        using var model = new Nested();
        using var monitor = new SpectralMonitor();
        var ffn = monitor.WatchAll(model, (name, module) => module is Linear && name.Contains(".ffn.", StringComparison.Ordinal));
        Assert.Equal(["blocks.0.ffn.up", "blocks.1.ffn.up"], ffn.Select(w => w.Name).Order().ToArray());
        var rest = monitor.WatchAll(model, (name, _) => !name.Contains(".ffn.", StringComparison.Ordinal));
        Assert.Equal(["blocks.0.proj", "blocks.1.proj", "head"], rest.Select(w => w.Name).Order().ToArray());
    }

    [Fact]
    public void WatchAll_SomeLayerAlreadyWatched_ThrowsAndRegistersNothing()
    {
        using var model = new Nested();
        using var monitor = new SpectralMonitor();
        using var head = monitor.Watch(model.head, "my-head");
        Assert.Throws<InvalidOperationException>(() => monitor.WatchAll(model));
        Assert.Single(monitor.Watches);
    }

    [Fact]
    public void Step_ThrowingHandler_IsCaughtAndLogged_OtherHandlersStillRun_OnStepThread()
    {
        using var layer = Layers.Gapped(8, 8, ScalarType.Float32, seed: 1);
        using var input = Layers.Randn([16, 8], ScalarType.Float32, seed: 2);
        var logger = new FakeLogger();
        using var monitor = new SpectralMonitor(new SpectralMonitorOptions { Interval = 1 }, logger);
        using var watch = monitor.Watch(layer, "l");
        int calls = 0;
        int handlerThread = -1;
        // Tests the event itself (isolation and thread of the handlers), so hand-written handlers, not MonitorHarness.
        monitor.Measured += (_, _) => throw new InvalidOperationException("user bug");
        monitor.Measured += (_, _) => { calls++; handlerThread = Environment.CurrentManagedThreadId; };

        using (no_grad())
            layer.call(input).Dispose();
        monitor.Step();

        Assert.Equal(1, calls);
        Assert.Equal(Environment.CurrentManagedThreadId, handlerThread);
        var error = Assert.Single(logger.Collector.GetSnapshot(), r => r.Id.Id == 4);
        Assert.Equal(LogLevel.Error, error.Level);
        Assert.IsType<InvalidOperationException>(error.Exception);
    }

    [Fact]
    public void Step_HandlerDisposesMonitor_DoesNotDeadlock()
    {
        using var layer = Layers.Gapped(8, 8, ScalarType.Float32, seed: 1);
        using var input = Layers.Randn([16, 8], ScalarType.Float32, seed: 2);
        var monitor = new SpectralMonitor(new SpectralMonitorOptions { Interval = 1 });
        monitor.Watch(layer, "l");
        monitor.Measured += (_, _) => monitor.Dispose();   // tests the event itself: a handler that disposes the monitor
        using (no_grad())
            layer.call(input).Dispose();
        monitor.Step();
        Assert.Throws<ObjectDisposedException>(() => monitor.Step());
    }

    [Fact]
    public void Dispose_FromHandlerAfterQueuingAStep_PublishesNothingMore()
    {
        // The handler's Step() is queued behind the step being published; the Dispose() that follows must drop it:
        // a disposed monitor raises no events and feeds no sinks.
        using var layer = Layers.Gapped(8, 8, ScalarType.Float32, seed: 1);
        using var input = Layers.Randn([16, 8], ScalarType.Float32, seed: 2);
        var monitor = new SpectralMonitor(new SpectralMonitorOptions { Interval = 1 });
        monitor.Watch(layer, "l");
        var measured = new List<long>();
        monitor.Measured += (_, m) =>
        {
            measured.Add(m.Step);
            if (measured.Count == 1)
            {
                monitor.Step();      // step 1: queued, published after this step …
                monitor.Dispose();   // … unless the monitor is gone by then
            }
        };
        using (no_grad())
            layer.call(input).Dispose();
        monitor.Step();
        Assert.Equal([0L], measured);
    }

    [Fact]
    public void Step_Alert_RaisedAsEventAndLoggedAsWarning()
    {
        // The paper's rule without warm-up on inputs along v1: an alert after 3 consecutive measurements.
        using var layer = Layers.Gapped(8, 8, ScalarType.Float32, seed: 1);
        var (v1, _) = Reference.Svd(layer.weight!);
        using var direction = tensor(v1, dtype: ScalarType.Float32);
        using var noise = Layers.Randn([32, 8], ScalarType.Float32, seed: 3);
        using var input = noise * 0.1f + direction;
        var logger = new FakeLogger();
        var options = new SpectralMonitorOptions
        {
            Interval = 1,
            Detection = new DetectionOptions { WarmupSteps = 0, Rules = [new AbsoluteSignCollapseRule()] },
        };
        using var harness = new MonitorHarness(options, logger);
        using var watch = harness.Monitor.Watch(layer, "blocks.3.gate");
        harness.Step(6, (layer, input));

        var alert = Assert.Single(harness.Alerts);
        Assert.Equal(AlertReasons.AbsoluteSignCollapse, alert.Reason);
        Assert.Equal("blocks.3.gate", alert.Layer);
        Assert.Equal(4, alert.Step);   // default: 5 consecutive measurements
        Assert.Same(alert.Stats, alert.Measurement!.Stats);
        var warning = Assert.Single(logger.Collector.GetSnapshot(), r => r.Id.Id == 1);
        Assert.Equal(LogLevel.Warning, warning.Level);
        Assert.Contains("blocks.3.gate", warning.Message, StringComparison.Ordinal);
        Assert.Contains(AlertReasons.AbsoluteSignCollapse, warning.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Step_WithSignals_RunRulesJudgeEveryStepAndAlertAsRun()
    {
        var options = new SpectralMonitorOptions
        {
            Interval = 10,
            Detection = new DetectionOptions { WarmupSteps = 5, ConsecutiveMeasurements = 1, Rules = [new GradientNormSpikeRule { WindowSteps = 20, MinSamples = 10 }] },
        };
        using var harness = new MonitorHarness(options);
        var random = new Random(1);
        for (int step = 0; step < 60; step++)
            harness.Monitor.Step(new TrainingSignals(Loss: 1, GradientNorm: step == 43 ? 50 : 1 + 0.1 * random.NextDouble()));

        var alert = Assert.Single(harness.Alerts);
        Assert.Equal((CollapseAlert.RunLayer, 43L, AlertReasons.GradientNormSpike), (alert.Layer, alert.Step, alert.Reason));
        Assert.Null(alert.Measurement);
    }

    [Fact]
    public void Step_NonFiniteInputRows_ExcludedCountedAndAlerted_NoNaN()
    {
        using var layer = Layers.Gapped(8, 8, ScalarType.Float32, seed: 1);
        using var clean = Layers.Randn([30, 8], ScalarType.Float32, seed: 2);
        using var input = clean.clone();
        using (no_grad())
        {
            input[0, 3] = tensor(float.NaN);
            input[1, 0] = tensor(float.PositiveInfinity);
            input[2, 7] = tensor(float.NegativeInfinity);
        }

        var logger = new FakeLogger();
        using var harness = new MonitorHarness(new SpectralMonitorOptions { Interval = 1 }, logger);
        using var watch = harness.Monitor.Watch(layer, "l");
        var (measured, alerts) = RunOnce(harness, layer, input);

        Assert.Equal(27, measured.Stats.Count);
        Assert.Equal(3, measured.Stats.NonFiniteRows);
        Assert.True(measured.Conditions.HasFlag(MeasurementConditions.NonFiniteInput));
        AssertNoNaN(measured);
        var (v1, _) = Reference.Svd(layer.weight!);
        var expected = Reference.Alignments(Reference.Rows(clean.narrow(0, 3, 27)), v1);
        Assert.Equal(Math.Abs(expected.Average()), measured.Stats.AbsMean, 1e-4);
        Assert.Equal(AlertReasons.NonFinite, Assert.Single(alerts).Reason);
        Assert.Single(logger.Collector.GetSnapshot(), r => r.Id.Id == 2);
    }

    [Fact]
    public void Step_NonFiniteWeight_FlaggedAlertedNoNaN_ThenRecoversWithPreviousVector()
    {
        using var layer = Layers.Gapped(8, 8, ScalarType.Float32, seed: 1);
        using var input = Layers.Randn([30, 8], ScalarType.Float32, seed: 2);
        using var good = layer.weight!.detach().clone();
        using var harness = new MonitorHarness(new SpectralMonitorOptions { Interval = 1 });
        using var watch = harness.Monitor.Watch(layer, "l");

        var (first, _) = RunOnce(harness, layer, input);
        using (no_grad())
            layer.weight![2, 2] = tensor(float.NaN);
        var (broken, alerts) = RunOnce(harness, layer, input);
        using (no_grad())
            layer.weight!.copy_(good);
        var (recovered, _) = RunOnce(harness, layer, input);

        Assert.True(broken.Conditions.HasFlag(MeasurementConditions.NonFiniteWeight));
        Assert.Equal(0, broken.Stats.Count);
        AssertNoNaN(broken);
        Assert.Equal(AlertReasons.NonFinite, Assert.Single(alerts).Reason);
        Assert.Equal(MeasurementConditions.None, recovered.Conditions);   // warm start from the kept vector
        Assert.Equal(first.Stats.Mean, recovered.Stats.Mean, 1e-5);
    }

    [Fact]
    public void Step_ZeroRows_ExcludedAndCounted_AllZero_FlaggedWithoutNaN()
    {
        using var layer = Layers.Gapped(8, 8, ScalarType.Float32, seed: 1);
        using var half = cat([Layers.Randn([20, 8], ScalarType.Float32, seed: 2), zeros(20, 8)], 0);
        using var allZero = zeros(20, 8);
        using var harness = new MonitorHarness(new SpectralMonitorOptions { Interval = 1 });
        using var watch = harness.Monitor.Watch(layer, "l");

        var (m1, _) = RunOnce(harness, layer, half);
        var (m2, alerts) = RunOnce(harness, layer, allZero);

        Assert.Equal(20, m1.Stats.Count);
        Assert.Equal(20, m1.Stats.ZeroRows);
        Assert.Equal(0, m2.Stats.Count);
        Assert.Equal(20, m2.Stats.ZeroRows);
        Assert.True(m2.Conditions.HasFlag(MeasurementConditions.NoValidRows));
        AssertNoNaN(m2);
        Assert.Empty(alerts);
    }

    [Fact]
    public void Step_ZeroWeight_FlaggedWithoutNaNOrAlert()
    {
        using var layer = Layers.WithWeight(zeros(6, 8));
        using var input = Layers.Randn([20, 8], ScalarType.Float32, seed: 2);
        using var harness = new MonitorHarness(new SpectralMonitorOptions { Interval = 1 });
        using var watch = harness.Monitor.Watch(layer, "l");
        var (m, alerts) = RunOnce(harness, layer, input);
        Assert.True(m.Conditions.HasFlag(MeasurementConditions.ZeroWeight));
        Assert.Equal(0, m.SpectralNorm);
        Assert.Equal(0, m.Stats.Count);
        AssertNoNaN(m);
        Assert.Empty(alerts);
        Assert.Null(watch.CopySingularVector());
    }

    /// <summary>One step of the one watched layer: its single measurement and the step's alerts.</summary>
    private static (LayerMeasurement Measurement, IReadOnlyList<CollapseAlert> Alerts) RunOnce(MonitorHarness harness, Linear layer, Tensor input)
    {
        var (measurements, alerts) = harness.StepOnce((layer, input));
        return (Assert.Single(measurements), alerts);
    }

    private static void AssertNoNaN(LayerMeasurement m)
    {
        var s = m.Stats;
        double[] values = [s.Mean, s.StdDev, s.PositiveFraction, s.SignDiversity, s.Min, s.P05, s.P25, s.Median, s.P75, s.P95, s.Max,
            m.SpectralNorm, m.SecondSingularValue, m.FrobeniusNorm, m.StableRank, m.GapRatio, m.Residual, m.InputMeanAlignment, m.MaxAbsInput];
        Assert.All(values, v => Assert.False(double.IsNaN(v)));
    }

    private sealed class Block : nn.Module<Tensor, Tensor>
    {
        public readonly Linear proj = nn.Linear(6, 6);
        public readonly Sequential ffn = nn.Sequential(("up", nn.Linear(6, 12)), ("act", nn.ReLU()), ("norm", nn.LayerNorm(12)));

        public Block() : base(nameof(Block)) => RegisterComponents();

        public override Tensor forward(Tensor x) => ffn.call(proj.call(x));
    }

    private sealed class Nested : nn.Module<Tensor, Tensor>
    {
        public readonly ModuleList<Block> blocks = nn.ModuleList(new Block(), new Block());
        public readonly Linear head = nn.Linear(12, 3);

        public Nested() : base(nameof(Nested)) => RegisterComponents();

        public override Tensor forward(Tensor x) => head.call(x);
    }
}
