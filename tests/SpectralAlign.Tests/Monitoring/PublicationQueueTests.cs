using SpectralAlign.Monitoring;
using SpectralAlign.Spectral;
using SpectralAlign.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace SpectralAlign.Tests.Monitoring;

/// <summary>
/// <see cref="SpectralMonitor.Step()"/> and <see cref="SpectralMonitor.Flush"/> overlapping on two threads: each
/// step is published whole, never inside or beside another, and in step order — the reference is the hand-written order
/// of the steps. The overlap is made deterministic by a handler that, mid-publication of one step, waits for another
/// thread's call; the wait has a timeout, so a call that blocks behind the publication (a deadlock) fails the test
/// instead of hanging it.
/// </summary>
[Collection(TorchCollection.Name)]
public sealed class PublicationQueueTests
{
    [Fact]
    public void Drain_OnePublicationThrows_TheStepsQueuedAfterItArePublishedToo()
    {
        var published = new List<long>();
        var queue = new PublicationQueue(o =>
        {
            published.Add(o.Step);
            if (o.Step == 1)
                throw new InvalidOperationException("publication bug");
        });
        queue.Add(new StepOutcome(1));
        queue.Add(new StepOutcome(2));

        Assert.Throws<InvalidOperationException>(queue.Drain);   // the failure is not hidden...
        Assert.Equal([1L, 2L], published);                       // ...but it does not hold back the next step

        queue.Add(new StepOutcome(3));
        queue.Drain();                                           // and the queue keeps working
        Assert.Equal([1L, 2L, 3L], published);
    }

    [Fact]
    public async Task Flush_AnotherThreadWhileAStepIsPublished_PublishesItsStepAfterThatOne()
    {
        // Background, Interval 1: the Step() call of step 3 publishes step 2 while step 3 is measured. Mid-publication
        // of step 2, another thread flushes step 3: it must come after the rest of step 2, not inside it.
        var (ended, published) = await Deadlock.Within(() =>
        {
            using var model = Training.Mlp(seed: 7, hidden: 48);
            using var task = new TeacherTask(32, 10, seed: 8);
            using var harness = new MonitorHarness(new SpectralMonitorOptions { Interval = 1, MaxSamplesPerLayer = 32, MeasureInBackground = true });
            bool? otherEnded = null;
            harness.Monitor.Measured += (_, m) =>
            {
                if (m.Step == 2 && m.Layer == "fc1")
                    otherEnded = Task.Run(harness.Monitor.Flush).Wait(Deadlock.Timeout);
            };
            harness.Train(model, task, 5, sgd: true);
            harness.Monitor.Flush();
            return (otherEnded, Published(harness));
        });

        Assert.True(ended, "Flush() on the other thread blocked behind the publication in progress");
        Assert.Equal(InOrder(steps: 5, "fc1", "fc2", "fc3"), published);
    }

    [Fact]
    public async Task Step_AnotherThreadStepsWhileAStepIsPublished_PublishesItsStepAfterThatOne()
    {
        // Foreground: mid-publication of step 1, another thread runs step 2 (forward pass and Step()); step 2's
        // measurements must come after the rest of step 1's, not inside them.
        var (ended, published) = await Deadlock.Within(() =>
        {
            using var rig = new TwoLayers();
            bool? otherEnded = null;
            rig.Harness.Monitor.Measured += (_, m) =>
            {
                if (m.Step == 1 && m.Layer == "a")
                    otherEnded = Task.Run(() => rig.Step(1)).Wait(Deadlock.Timeout);
            };
            rig.Step(3);   // steps 0, 1 and (after the other thread's step 2) 3
            return (otherEnded, Published(rig.Harness));
        });

        Assert.True(ended, "Step() on the other thread blocked behind the publication in progress");
        Assert.Equal(InOrder(steps: 4, "a", "b"), published);
    }

    [Fact]
    public async Task Step_AnotherThreadStepsAndUpdatesTheWeightWhileAStepIsPublished_ItsCaptureHoldsTheMeasuredWeight()
    {
        // Foreground with a capture sink: mid-publication of step 1, another thread runs step 2 and then changes layer
        // a's weight in place, as an optimizer step would, before step 2 is published (it is queued behind step 1).
        // Step 2's capture must hold the weight step 2 measured, not the updated one.
        var (ended, measured, captured) = await Deadlock.Within(() =>
        {
            using var rig = new TwoLayers();
            Tensor? atStep2 = null, capturedAtStep2 = null;
            bool? otherEnded = null;
            using var sink = rig.Harness.Monitor.AddCaptureSink(new CallbackCaptureSink(record =>
            {
                if (record.Step == 2 && record.Layer == "a")
                    capturedAtStep2 = record.Weight.detach().clone();
            }));
            rig.Harness.Monitor.Measured += (_, m) =>
            {
                if (m.Step == 1 && m.Layer == "a")
                {
                    otherEnded = Task.Run(() =>
                    {
                        rig.Step(1);   // step 2: measured now, published after the rest of step 1
                        using var noGrad = no_grad();
                        atStep2 = rig.WeightA.detach().clone();
                        rig.WeightA.add_(ones_like(rig.WeightA), Scalars.One);
                    }).Wait(Deadlock.Timeout);
                }
            };
            rig.Step(2);
            return (otherEnded, atStep2?.data<float>().ToArray(), capturedAtStep2?.data<float>().ToArray());
        });

        Assert.True(ended, "Step() on the other thread blocked behind the publication in progress");
        Assert.NotNull(captured);
        Assert.Equal(measured, captured);   // bit for bit (the updated weight differs by 1 in every entry)
    }

    [Fact]
    public void Step_FromAHandlerOfItsOwnMonitor_PublishesItsStepAfterTheHandlersStep()
    {
        // Foreground: a handler of step 1 runs step 2 on the same thread; step 2 is published after the rest of step 1
        // (by the same outer Step() call), not inside it.
        using var rig = new TwoLayers();
        rig.Harness.Monitor.Measured += (_, m) =>
        {
            if (m.Step == 1 && m.Layer == "a")
                rig.Step(1);
        };

        rig.Step(2);
        Assert.Equal(InOrder(steps: 3, "a", "b"), Published(rig.Harness));
    }

    private static List<(long Step, string Layer)> Published(MonitorHarness harness) =>
        [.. harness.Measurements.Select(m => (m.Step, m.Layer))];

    /// <summary>Every layer of step 0, then every layer of step 1, …: the order a single thread publishes.</summary>
    private static List<(long Step, string Layer)> InOrder(int steps, params string[] layers) =>
        [.. Enumerable.Range(0, steps).SelectMany(s => layers.Select(l => ((long)s, l)))];

    /// <summary>Two seeded 8 × 8 layers "a" and "b" watched in the foreground at Interval 1, and their input.</summary>
    private sealed class TwoLayers : IDisposable
    {
        private readonly nn.Module<Tensor, Tensor> _a = Layers.Gapped(8, 8, ScalarType.Float32, seed: 1);
        private readonly nn.Module<Tensor, Tensor> _b = Layers.Gapped(8, 8, ScalarType.Float32, seed: 3);
        private readonly Tensor _input = Layers.Randn([16, 8], ScalarType.Float32, seed: 2);

        public TwoLayers()
        {
            Harness.Monitor.Watch(_a, "a");
            Harness.Monitor.Watch(_b, "b");
        }

        public MonitorHarness Harness { get; } = new(new SpectralMonitorOptions { Interval = 1, MaxSamplesPerLayer = 16 });

        /// <summary>Layer a's weight (the live parameter).</summary>
        public Tensor WeightA => ((TorchSharp.Modules.Linear)_a).weight!;

        /// <summary>Calls both layers and steps the monitor, <paramref name="steps"/> times.</summary>
        public void Step(int steps) => Harness.Step(steps, (_a, _input), (_b, _input));

        public void Dispose()
        {
            Harness.Dispose();
            _a.Dispose();
            _b.Dispose();
            _input.Dispose();
        }
    }
}
