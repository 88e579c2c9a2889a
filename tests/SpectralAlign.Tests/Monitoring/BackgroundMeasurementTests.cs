using System.Globalization;
using Microsoft.Extensions.Logging.Testing;
using SpectralAlign.Telemetry;
using SpectralAlign.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;
using static SpectralAlign.Tests.Support.LiveTensors;

namespace SpectralAlign.Tests.Monitoring;

/// <summary>
/// <see cref="SpectralMonitorOptions.MeasureInBackground"/>: the same measurements, alerts and state as the foreground
/// (the reference: the same seeded run measured on the training thread), published one <see cref="SpectralMonitor.Step()"/>
/// later or by <see cref="SpectralMonitor.Flush"/>; training unchanged; nothing left behind. The runs train with the
/// written-out SGD step: the worker allocates while the loop runs, and TorchSharp's Adam makes temporary Scalars that
/// a collection could free mid-call (README, "Threading") — a TorchSharp failure that would show up as these tests'.
/// </summary>
[Collection(TorchCollection.Name)]
public sealed class BackgroundMeasurementTests
{
    private const int Steps = 40;

    /// <summary>A seeded MLP trained on a seeded task for <see cref="Steps"/> Adam steps, watched by a harness whose
    /// every published measurement is recorded with the monitor's <see cref="SpectralMonitor.CurrentStep"/> at that
    /// moment; the background run ends with <see cref="SpectralMonitor.Flush"/>.</summary>
    private static (MonitorHarness Harness, List<(LayerMeasurement Measurement, long PublishedAt, bool ByFlush)> Published) Run(int interval, bool background, int hidden = 48)
    {
        using var model = Training.Mlp(seed: 7, hidden: hidden);
        using var task = new TeacherTask(32, 10, seed: 8);
        var harness = new MonitorHarness(new SpectralMonitorOptions { Interval = interval, MaxSamplesPerLayer = 32, MeasureInBackground = background });
        var published = new List<(LayerMeasurement, long, bool)>();
        bool flushing = false;
        harness.Monitor.Measured += (_, m) => published.Add((m, harness.Monitor.CurrentStep, flushing));
        harness.Train(model, task, Steps, lr: 3e-2, sgd: true);
        flushing = true;
        harness.Monitor.Flush();
        return (harness, published);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public void Step_MeasureInBackground_PublishesTheForegroundMeasurementsOneStepLater(int interval)
    {
        var (foreground, expected) = Run(interval, background: false);
        var (background, actual) = Run(interval, background: true);
        using (foreground)
        using (background)
        {
            // Same measurements, in the same order, bit for bit (both measure the same weights and rows with the same
            // operations; only the thread differs).
            Assert.Equal(3 * (((Steps - 1) / interval) + 1), expected.Count);
            Assert.Equal(expected.Count, actual.Count);
            for (int i = 0; i < expected.Count; i++)
                Measurements.AssertIdentical(expected[i].Measurement, actual[i].Measurement);

            // Foreground: published by the Step() call of the measured step itself (CurrentStep has just advanced past
            // it); background: by the next Step() call, or by Flush() after the last step.
            Assert.All(expected, p => Assert.Equal(p.Measurement.Step + 1, p.PublishedAt));
            Assert.All(actual, p => Assert.Equal(p.ByFlush ? Steps : p.Measurement.Step + 2, p.PublishedAt));
            Assert.Equal((Steps - 1) % interval == 0 ? 3 : 0, actual.Count(p => p.ByFlush));
        }
    }

    [Fact]
    public void SaveState_MeasureInBackground_EqualsTheForegroundState()
    {
        var (foreground, _) = Run(interval: 1, background: false);
        var (background, _) = Run(interval: 1, background: true);
        using (foreground)
        using (background)
        {
            Assert.Equal(SavedState(foreground.Monitor), SavedState(background.Monitor));
        }

        static byte[] SavedState(SpectralMonitor monitor)
        {
            using var stream = new MemoryStream();
            monitor.SaveState(stream);
            return stream.ToArray();
        }
    }

    [Fact]
    public void Step_MeasureInBackgroundWithoutFlush_SaveStateWaitsForTheMeasurement()
    {
        // The last step's measurement is still pending (not published): SaveState waits for it, so the state equals
        // the foreground's, and the pending measurement is still published by Flush afterwards.
        using var model = Training.Mlp(seed: 7, hidden: 48);
        using var task = new TeacherTask(32, 10, seed: 8);
        using var harness = new MonitorHarness(new SpectralMonitorOptions { Interval = 1, MaxSamplesPerLayer = 32, MeasureInBackground = true });
        harness.Train(model, task, 5, sgd: true);
        Assert.Equal(4 * 3, harness.Measurements.Count);
        using var stream = new MemoryStream();
        harness.Monitor.SaveState(stream);
        Assert.Equal(4 * 3, harness.Measurements.Count);
        harness.Monitor.Flush();
        Assert.Equal(5 * 3, harness.Measurements.Count);
        Assert.All(harness.Measurements.Skip(12), m => Assert.Equal(4, m.Step));
        harness.Monitor.Flush();   // nothing pending: publishes nothing
        Assert.Equal(5 * 3, harness.Measurements.Count);
    }

    [Fact]
    public void Flush_FromAMeasuredHandler_PublishesNoStepInsideAnother()
    {
        // A handler of step t that calls Flush() while step t + 1 is already measured in the background must not
        // receive step t + 1's events in the middle of step t's; they come after step t's, in order.
        using var model = Training.Mlp(seed: 7, hidden: 48);
        using var task = new TeacherTask(32, 10, seed: 8);
        using var harness = new MonitorHarness(new SpectralMonitorOptions { Interval = 1, MaxSamplesPerLayer = 32, MeasureInBackground = true });
        harness.Monitor.Measured += (_, _) => harness.Monitor.Flush();
        harness.Train(model, task, 8, sgd: true);
        harness.Monitor.Flush();

        var steps = harness.Measurements.Select(m => m.Step).ToList();
        Assert.Equal(Enumerable.Range(0, 8).SelectMany(s => Enumerable.Repeat((long)s, 3)), steps);
    }

    [Fact]
    public void Flush_Foreground_PublishesNothing_AndThrowsOnceDisposed()
    {
        using var model = Training.Mlp(seed: 7, hidden: 48);
        using var task = new TeacherTask(32, 10, seed: 8);
        var harness = new MonitorHarness(new SpectralMonitorOptions { Interval = 1, MaxSamplesPerLayer = 32 });
        harness.Train(model, task, 3, sgd: true);
        int count = harness.Measurements.Count;
        harness.Monitor.Flush();
        Assert.Equal(count, harness.Measurements.Count);
        harness.Dispose();
        Assert.Throws<ObjectDisposedException>(harness.Monitor.Flush);
    }

    [Fact]
    public void Dispose_MeasurementInFlight_WaitsPublishesNothingAndReleasesEveryTensor()
    {
        using var model = Training.Mlp(seed: 7, hidden: 48);
        using var task = new TeacherTask(32, 10, seed: 8);
        long before = Live();
        var harness = new MonitorHarness(new SpectralMonitorOptions { Interval = 1, MaxSamplesPerLayer = 32, MeasureInBackground = true });
        harness.Train(model, task, 6, sgd: true);
        int published = harness.Measurements.Count;
        harness.Dispose();   // the sixth step's measurement is in flight (or done, not yet published)

        Assert.Equal(5 * 3, published);
        Assert.Equal(published, harness.Measurements.Count);
        Assert.Equal(before, Live());   // weight copies, rows, warm state: all released
    }

    [Fact]
    public void Step_MeasureInBackground_HoldsBetweenStepsWhatTheForegroundHoldsAfterFlush()
    {
        // After Flush, the monitor holds exactly its warm state (see MemoryTests): per bucket one basis tensor, per run
        // one u1 and one sketch tensor, per layer Ω — the weight copies and rows of the background step are released.
        long Held(bool background)
        {
            using var model = Training.Mlp(seed: 1, hidden: 48);
            using var task = new TeacherTask(32, 10, seed: 2);
            long start = Live();
            using var harness = new MonitorHarness(new SpectralMonitorOptions { Interval = 1, MaxSamplesPerLayer = 32, MeasureInBackground = background });
            harness.Train(model, task, 20, sgd: true);
            harness.Monitor.Flush();
            return Live() - start;
        }

        const int buckets = 2, runs = 3, layers = 3;
        Assert.Equal(buckets + (2 * runs) + layers, Held(background: false));
        Assert.Equal(buckets + (2 * runs) + layers, Held(background: true));
    }

    [Fact]
    public void AddCaptureSink_MeasureInBackground_RecordsHoldTheMeasuredStepsWeightsAndRows()
    {
        // Published one step later, a record must still hold the weight of its own step (the foreground's record, made
        // before the next optimizer step), not the live parameter that has moved on since.
        var expected = Captured(background: false);
        var actual = Captured(background: true);
        Assert.Equal(3 * 6, expected.Count);
        Assert.Equal(expected.Select(r => (r.Layer, r.Step)), actual.Select(r => (r.Layer, r.Step)));
        for (int i = 0; i < expected.Count; i++)
        {
            Assert.Equal(expected[i].Weight, actual[i].Weight);
            Assert.Equal(expected[i].Rows, actual[i].Rows);
        }

        // The weights do change from step to step, so a record holding the live parameter would differ.
        Assert.NotEqual(expected[0].Weight, expected[3].Weight);

        static List<(string Layer, long Step, float[] Weight, float[] Rows)> Captured(bool background)
        {
            using var model = Training.Mlp(seed: 7, hidden: 48);
            using var task = new TeacherTask(32, 10, seed: 8);
            using var harness = new MonitorHarness(new SpectralMonitorOptions { Interval = 1, MaxSamplesPerLayer = 32, MeasureInBackground = background });
            var sink = new RecordingCaptureSink();
            using var registration = harness.Monitor.AddCaptureSink(sink);
            harness.Train(model, task, 6, lr: 3e-2, sgd: true);
            harness.Monitor.Flush();
            return sink.Records;
        }
    }

    [Fact]
    public void LastMeasurement_MeasureInBackground_IsTheForegroundsOfTheSameStep()
    {
        // After Step(4) the foreground's watches hold step 4's measurements; in the background step 4 is still being
        // measured (published by the next Step() or Flush()), and reading a watch's last measurement waits for it, as
        // CopySingularVector does, instead of returning step 3's beside step 4's v1.
        var expected = Last(background: false);
        var actual = Last(background: true);
        Assert.Equal(3, expected.Count);
        Assert.All(expected, m => Assert.Equal(4, m.Step));
        Assert.Equal(expected.Count, actual.Count);
        for (int i = 0; i < expected.Count; i++)
            Measurements.AssertIdentical(expected[i], actual[i]);

        static List<LayerMeasurement> Last(bool background)
        {
            using var model = Training.Mlp(seed: 7, hidden: 48);
            using var task = new TeacherTask(32, 10, seed: 8);
            using var harness = new MonitorHarness(new SpectralMonitorOptions { Interval = 1, MaxSamplesPerLayer = 32, MeasureInBackground = background });
            harness.Train(model, task, 5, sgd: true);
            var watches = harness.Monitor.Watches;
            var last = watches.Take(2).Select(w => w.LastMeasurement!).Append(watches[2].GetLastMeasurement(watches[2].Layers[0])!).ToList();
            // Reading it publishes nothing: step 4's events still come with Flush() (or the next Step()).
            Assert.Equal(background ? 4 * 3 : 5 * 3, harness.Measurements.Count);
            harness.Monitor.Flush();
            Assert.Equal(5 * 3, harness.Measurements.Count);
            return last;
        }
    }

    [Fact]
    public void LoadState_MeasurementNotYetPublished_LastMeasurementIsTheLoadedStatesNotTheDroppedStep()
    {
        // A run of 5 steps loads a state saved at step 3 while step 4 is still unpublished in the background: step 4 is
        // dropped, so the watches must not report it. References: a new foreground monitor resuming from the same state
        // (nothing measured yet), and the foreground monitor of the same run after the same LoadState; after the resumed
        // step 3, all three report that step's measurements, bit for bit.
        byte[] state = SavedAfter(steps: 3);
        var resumed = AroundLoadState(background: false, stepsBefore: 0, state);
        var foreground = AroundLoadState(background: false, stepsBefore: 5, state);
        var background = AroundLoadState(background: true, stepsBefore: 5, state);

        Assert.Equal(4 * 3, background.PublishedBefore);   // step 4 was dropped unpublished …
        Assert.All(background.AfterLoad, Assert.Null);     // … and is not the watches' last measurement either
        Assert.All(resumed.AfterLoad, Assert.Null);
        Assert.All(foreground.AfterLoad, Assert.Null);
        Assert.All(resumed.AfterStep, m => Assert.Equal(3, m!.Step));
        for (int i = 0; i < 3; i++)
        {
            Measurements.AssertIdentical(foreground.AfterStep[i]!, background.AfterStep[i]!);
            Assert.Equal(3, background.AfterStep[i]!.Step);
        }

        static byte[] SavedAfter(int steps)
        {
            using var model = Training.Mlp(seed: 7, hidden: 48);
            using var task = new TeacherTask(32, 10, seed: 8);
            using var harness = new MonitorHarness(new SpectralMonitorOptions { Interval = 1, MaxSamplesPerLayer = 32 });
            harness.Train(model, task, steps, sgd: true);
            using var stream = new MemoryStream();
            harness.Monitor.SaveState(stream);
            return stream.ToArray();
        }

        static (int PublishedBefore, List<LayerMeasurement?> AfterLoad, List<LayerMeasurement?> AfterStep) AroundLoadState(bool background, int stepsBefore, byte[] state)
        {
            using var model = Training.Mlp(seed: 7, hidden: 48);
            using var task = new TeacherTask(32, 10, seed: 8);
            using var harness = new MonitorHarness(new SpectralMonitorOptions { Interval = 1, MaxSamplesPerLayer = 32, MeasureInBackground = background });
            harness.Monitor.WatchAll(model);
            harness.Train(model, task, stepsBefore, sgd: true);
            int published = harness.Measurements.Count;
            Assert.Empty(harness.Monitor.LoadState(new MemoryStream(state)));
            var afterLoad = harness.Monitor.Watches.Select(w => w.LastMeasurement).ToList();
            harness.Train(model, task, 1, sgd: true);   // the resumed run's step 3
            harness.Monitor.Flush();
            return (published, afterLoad, [.. harness.Monitor.Watches.Select(w => w.LastMeasurement)]);
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Step_EngineThrows_LoggedAsMeasurementFailedOfItsStep_TrainingAndLaterStepsGoOn(bool background)
    {
        // A real input the engine cannot measure: a weight on the meta device (shapes only, no data) — LayerInput
        // accepts it, the engine fails at its read-back, in the background on the worker. The foreground is the
        // reference: the same failures, of the same steps, logged by the Step() of the step (by the next one in the
        // background); the step counter advances; once the layer is gone, the others are measured again; nothing leaks.
        using var fine = Layers.Gapped(8, 8, ScalarType.Float32, seed: 1);
        using var host = Layers.Gapped(8, 8, ScalarType.Float32, seed: 3);
        using var metaWeight = empty([8, 8], dtype: ScalarType.Float32, device: new Device(DeviceType.META));
        using var input = Layers.Randn([16, 8], ScalarType.Float32, seed: 2);
        var logger = new FakeLogger();
        long before = Live();
        var harness = new MonitorHarness(new SpectralMonitorOptions { Interval = 1, MaxSamplesPerLayer = 16, MeasureInBackground = background }, logger);
        harness.Monitor.Watch(fine, "fine");
        var meta = harness.Monitor.Watch(host, "meta", () => metaWeight);

        List<long> FailedSteps() =>
            [.. logger.Collector.GetSnapshot().Where(r => r.Id.Id == 6).Select(r => long.Parse(r.StructuredState!.Single(p => p.Key == "Step").Value!, CultureInfo.InvariantCulture))];

        long[] afterFirst = background ? [] : [0L], afterSecond = background ? [0L] : [0L, 1L];
        harness.Step(1, (fine, input), (host, input));
        Assert.Equal(afterFirst, FailedSteps());
        harness.Step(1, (fine, input), (host, input));
        Assert.Equal(afterSecond, FailedSteps());
        Assert.All(logger.Collector.GetSnapshot().Where(r => r.Id.Id == 6), r => Assert.NotNull(r.Exception));
        Assert.Equal(2, harness.Monitor.CurrentStep);
        Assert.Empty(harness.Measurements);

        meta.Dispose();   // in the background, step 1's failing measurement is concluded first
        harness.Step(1, (fine, input));
        harness.Monitor.Flush();
        Assert.Equal([0L, 1L], FailedSteps());
        Assert.Equal([("fine", 2L)], harness.Measurements.Select(m => (m.Layer, m.Step)));
        Assert.Equal(3, harness.Monitor.CurrentStep);

        harness.Dispose();
        Assert.Equal(before, Live());   // the weight copies and rows of the failed steps too
    }

    private sealed class RecordingCaptureSink : ICaptureSink
    {
        public List<(string Layer, long Step, float[] Weight, float[] Rows)> Records { get; } = [];

        public void OnCapture(CaptureRecord record) =>
            Records.Add((record.Layer, record.Step, record.Weight.data<float>().ToArray(), record.Rows!.data<float>().ToArray()));
    }
}
