using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using SpectralAlign.Detection;
using SpectralAlign.Guard;
using SpectralAlign.Tests.Support;
using TorchSharp.Modules;
using static SpectralAlign.Tests.Guard.GuardKit;
using static TorchSharp.torch;

namespace SpectralAlign.Tests.Guard;

/// <summary>The guard's triggers, actions and guarantees on real (small) training runs.</summary>
[Collection(TorchCollection.Name)]
public sealed class TrainingGuardTests
{
    [Theory]
    [MemberData(nameof(GuardKit.Optimizers), MemberType = typeof(GuardKit))]
    public void Step_NeverIntervening_TrainingIsBitIdenticalToUnguarded(string optimizer)
    {
        const int steps = 60;
        var data = Data(seed: 2);
        using var plain = Mlp(seed: 1);
        using var plainOptimizer = Optimizer(optimizer, plain.parameters(), 1e-2);
        var plainLosses = Enumerable.Range(0, steps).Select(i => TrainStep(plain, plainOptimizer, data, i)).ToArray();

        using var rig = new GuardRig(new TrainingGuardOptions { SnapshotInterval = 7, SnapshotCount = 3 }, optimizer);
        for (int i = 0; i < steps; i++)
            Assert.Equal(GuardAction.Continue, rig.Step(i));

        Assert.Equal(0, rig.Guard.Interventions);
        Assert.Equal([42L, 49, 56], rig.Guard.SnapshotSteps);            // it did take snapshots
        Assert.Equal(plainLosses, rig.Losses);
        AssertSameBits(GuardKit.Bits(plain), GuardKit.Bits(rig.Model));
        Assert.Equal(GuardKit.Bits(plainOptimizer), GuardKit.Bits(rig.Optimizer));
        Assert.True(plainLosses.Distinct().Count() > steps / 2, "the run should actually train");
    }

    [Fact]
    public void Step_Trip_RollsBackToNewestSnapshotOlderThanMargin_AndBacksOffTheLearningRate()
    {
        var options = new TrainingGuardOptions { SnapshotInterval = 10, SnapshotCount = 5, RollbackMargin = 15, LearningRateHoldSteps = 10, LearningRateRecoverySteps = 20 };
        using var rig = new GuardRig(options);
        Dictionary<string, byte[]>? atStep30 = null;
        for (int i = 0; i < 47; i++)
        {
            rig.Step(i);
            if (i == 30)
                atStep30 = GuardKit.Bits(rig.Model);
        }

        rig.Guard.Trip("test");
        var action = rig.Step(47);

        Assert.Equal(GuardAction.RolledBack, action);
        AssertSameBits(atStep30!, GuardKit.Bits(rig.Model));
        var intervention = Assert.Single(rig.Interventions);
        Assert.Equal(30, intervention.RestoredSnapshotStep);
        Assert.Equal(17, intervention.StepsUndone);
        Assert.Equal(GuardTriggerKind.Manual, Assert.Single(intervention.Triggers).Kind);
        Assert.Null(intervention.Problem);
        Assert.Equal(0.5, rig.Guard.LearningRateScale);
        Assert.Equal(0.5e-2, rig.LearningRate, 1e-15);
        Assert.Equal([0L, 10, 20, 30], rig.Guard.SnapshotSteps);          // the abandoned trajectory's snapshot is gone
        Assert.Single(rig.Logged(42));

        // Hold for 10 steps, then a geometric ramp back to exactly the original rate over 20 steps.
        var scales = new List<double>();
        for (int i = 48; i < 80; i++)
        {
            rig.Step(i);
            scales.Add(rig.Guard.LearningRateScale);
        }

        Assert.All(scales.Take(9), s => Assert.Equal(0.5, s));
        Assert.True(scales.Skip(9).Take(21).Zip(scales.Skip(10).Take(20)).All(p => p.First < p.Second), "the ramp rises monotonically");
        Assert.Equal(1, scales[^1]);
        Assert.Equal(1e-2, rig.LearningRate);
        Assert.Single(rig.Logged(51));
    }

    /// <summary>Scores 1 from step <see cref="From"/> on (0 before), for every layer.</summary>
    private sealed class FromStepRule() : LayerRule("FromStep", 0.5)
    {
        public long From { get; init; }

        protected internal override RuleScorer<LayerMeasurement> CreateScorer(string layer) => new Scorer(this);

        private sealed class Scorer(FromStepRule rule) : RuleScorer<LayerMeasurement>
        {
            public override double? Score(long step, LayerMeasurement input) => step >= rule.From ? 1 : 0;
        }
    }

    [Theory]
    [InlineData(false, 24)]   // the alert of step 24 is published by Step(24): the guard acts at step 24
    [InlineData(true, 25)]    // in the background it is published by Step(25): the guard acts one step later
    public void Step_MonitorAlert_GuardActsWhenTheAlertIsPublished(bool background, long actsAt)
    {
        var detection = new DetectionOptions { WarmupSteps = 0, MinSamples = 1, ConsecutiveMeasurements = 1, Rules = [new FromStepRule { From = 24 }] };
        var monitor = new SpectralMonitorOptions { Interval = 2, MeasureInBackground = background, Detection = detection };
        using var rig = new GuardRig(new TrainingGuardOptions { SnapshotInterval = 10, RollbackMargin = 5 }, monitor: monitor);
        for (int i = 0; i < 30; i++)
            rig.Step(i);

        var intervention = Assert.Single(rig.Interventions);
        Assert.Equal(actsAt, intervention.Step);
        Assert.Equal(GuardAction.RolledBack, intervention.Action);
        Assert.Equal(10, intervention.RestoredSnapshotStep);   // the newest snapshot at least 5 steps before the episode (24)
        Assert.All(intervention.Triggers, t => Assert.Equal((GuardTriggerKind.Alert, 24L), (t.Kind, t.Step)));
        Assert.Equal(3, intervention.Triggers.Count);          // one per layer of the MLP
    }

    [Fact]
    public void Step_NonFiniteLoss_IsATrigger()
    {
        using var rig = new GuardRig(new TrainingGuardOptions { SnapshotInterval = 5, RollbackMargin = 5 });
        for (int i = 0; i < 20; i++)
            rig.Step(i);

        Assert.Equal(GuardAction.RolledBack, rig.Step(20, double.NaN));

        var trigger = Assert.Single(Assert.Single(rig.Interventions).Triggers);
        Assert.Equal(GuardTriggerKind.NonFiniteLoss, trigger.Kind);
        Assert.Equal(15, rig.Interventions[0].RestoredSnapshotStep);
    }

    [Fact]
    public void Step_LossSpike_IsATrigger_AndTheHistoryStartsAfresh()
    {
        using var rig = new GuardRig(new TrainingGuardOptions { SnapshotInterval = 10, SnapshotCount = 6, LossSpikeWindow = 20 });
        for (int i = 0; i < 60; i++)
            Assert.Equal(GuardAction.Continue, rig.Step(i, 1.0 + 0.01 * (i % 3)));

        Assert.Equal(GuardAction.RolledBack, rig.Step(60, 5.0));

        Assert.Equal(GuardTriggerKind.LossSpike, Assert.Single(rig.Interventions[0].Triggers).Kind);
        Assert.Equal(10, rig.Interventions[0].RestoredSnapshotStep);      // newest at least 50 steps before step 60
    }

    [Fact]
    public void Step_TriggerDuringCooldown_IsIgnored_ExceptANonFiniteLoss()
    {
        using var rig = new GuardRig(new TrainingGuardOptions { SnapshotInterval = 5, CooldownSteps = 10, RollbackMargin = 0 });
        for (int i = 0; i < 20; i++)
            rig.Step(i);
        rig.Guard.Trip("first");
        Assert.Equal(GuardAction.RolledBack, rig.Step(20));

        rig.Guard.Trip("second");
        Assert.Equal(GuardAction.Continue, rig.Step(21));
        Assert.Single(rig.Logged(49));
        Assert.Equal(GuardAction.RolledBack, rig.Step(22, double.PositiveInfinity));
        Assert.Equal(2, rig.Guard.Interventions);
    }

    [Fact]
    public void Step_AfterMaxInterventions_StopsWithADistinctEventAndOneErrorLog()
    {
        using var rig = new GuardRig(new TrainingGuardOptions { SnapshotInterval = 5, CooldownSteps = 0, MaxInterventions = 2, RollbackMargin = 0 });
        var actions = new List<GuardAction>();
        for (int i = 0; i < 40; i++)
        {
            if (i is 10 or 15 or 20 or 25)
                rig.Guard.Trip($"trip {i}");
            actions.Add(rig.Step(i));
        }

        Assert.Equal([GuardAction.RolledBack, GuardAction.RolledBack, GuardAction.Exhausted, GuardAction.Exhausted], actions.Where(a => a != GuardAction.Continue));
        Assert.Equal(2, rig.Guard.Interventions);
        Assert.Equal(2, rig.Interventions.Count);
        var exhausted = Assert.Single(rig.Exhaustions);
        Assert.Equal(GuardAction.Exhausted, exhausted.Action);
        Assert.Equal(20, exhausted.Step);
        var error = Assert.Single(rig.Logged(47));
        Assert.Equal(Microsoft.Extensions.Logging.LogLevel.Error, error.Level);
    }

    [Fact]
    public void Step_NoSnapshotOldEnough_ActsWithoutRollbackAndSaysSo()
    {
        using var rig = new GuardRig(new TrainingGuardOptions { SnapshotInterval = 100 });
        rig.Step(0);                                   // the only snapshot: step 0
        rig.Guard.Trip("immediately");

        Assert.Equal(GuardAction.RolledBack, rig.Step(1));   // step 0 is older than step 1 but not by the margin:
        Assert.Equal(0, rig.Interventions[0].RestoredSnapshotStep);         // the oldest snapshot is used…
        Assert.Contains("oldest snapshot", rig.Interventions[0].Problem);

        using var early = new GuardRig(new TrainingGuardOptions { SnapshotInterval = 100 });
        early.Guard.Trip("before any snapshot");
        Assert.Equal(GuardAction.Adjusted, early.Step(0));                   // …and with none at all there is no rollback
        Assert.Null(early.Interventions[0].RestoredSnapshotStep);
        Assert.Contains("no snapshot", early.Interventions[0].Problem);
        Assert.Single(early.Logged(44));
        Assert.Equal(0.5, early.Guard.LearningRateScale);
    }

    [Fact]
    public void Step_RollbackFailsMidway_ModelLeftAsItWas_GuardGoesOnWithoutRollback()
    {
        using var rig = new GuardRig(new TrainingGuardOptions { SnapshotInterval = 5, RollbackMargin = 0 });
        for (int i = 0; i < 12; i++)
            rig.Step(i);
        int writes = 0;
        rig.Guard.RestoreFault = _ =>
        {
            if (++writes == 4)
                throw new IOException("injected");
        };
        rig.Guard.Trip("test");

        float loss = TrainStep(rig.Model, rig.Optimizer, rig.Data, 12);
        var afterTraining = GuardKit.Bits(rig.Model);
        var action = rig.Guard.Step(loss);

        Assert.Equal(GuardAction.Adjusted, action);
        AssertSameBits(afterTraining, GuardKit.Bits(rig.Model));
        Assert.Contains("the rollback failed", rig.Interventions[0].Problem);
        Assert.Single(rig.Logged(43));
        Assert.Equal(0.5, rig.Guard.LearningRateScale);
    }

    [Fact]
    public void Step_SnapshotsAndInterventions_AreRecordedOnTheSpectralAlignMeter()
    {
        using var interventions = new MetricCollector<long>(GuardTelemetry.Interventions);
        using var bytes = new MetricCollector<long>(GuardTelemetry.SnapshotBytes);
        using var durations = new MetricCollector<double>(GuardTelemetry.SnapshotDuration);
        using var scale = new MetricCollector<double>(GuardTelemetry.LearningRateScale);
        using var rig = new GuardRig(new TrainingGuardOptions { SnapshotInterval = 5, RollbackMargin = 0 });
        for (int i = 0; i < 12; i++)
            rig.Step(i);
        rig.Guard.Trip("test");
        rig.Step(12);

        Assert.Equal("SpectralAlign", GuardTelemetry.Interventions.Meter.Name);
        var recorded = Assert.Single(interventions.GetMeasurementSnapshot());
        Assert.Equal(1, recorded.Value);
        Assert.Equal("RolledBack", recorded.Tags["action"]);
        Assert.Equal(3, durations.GetMeasurementSnapshot().Count);             // steps 0, 5, 10
        Assert.Equal(rig.Guard.SnapshotBytes, bytes.LastMeasurement!.Value);     // three snapshots held after the rollback to step 10
        Assert.Equal(0.5, scale.LastMeasurement!.Value);
    }

    /// <summary>A metrics listener on the guard's own instruments (snapshot duration and size, interventions,
    /// learning-rate scale) that throws never reaches the training loop: the guard snapshots, rolls back and backs
    /// off as without it, and logs the failure (event 57).</summary>
    [Fact]
    public void Step_GuardMetricsListenerThrows_NeverReachesTheLoop()
    {
        using var listener = new System.Diagnostics.Metrics.MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Name.StartsWith("spectralalign.guard.", StringComparison.Ordinal))
                l.EnableMeasurementEvents(instrument);
        };
        listener.SetMeasurementEventCallback<double>((_, _, _, _) => throw new InvalidOperationException("listener bug"));
        listener.SetMeasurementEventCallback<long>((_, _, _, _) => throw new InvalidOperationException("listener bug"));
        listener.Start();
        using var rig = new GuardRig(new TrainingGuardOptions { SnapshotInterval = 5, RollbackMargin = 0 });
        for (int i = 0; i < 10; i++)
            rig.Step(i);
        rig.Guard.Trip("test");

        var action = rig.Step(10);

        Assert.Equal(GuardAction.RolledBack, action);
        Assert.Single(rig.Interventions);
        Assert.NotEmpty(rig.Logged(57));   // GuardMetricsFailed
    }

    [Fact]
    public void Intervened_HandlerThrows_NeverReachesTheLoop()
    {
        using var rig = new GuardRig(new TrainingGuardOptions { SnapshotInterval = 5, RollbackMargin = 0 });
        rig.Guard.Intervened += (_, _) => throw new InvalidOperationException("handler bug");
        for (int i = 0; i < 10; i++)
            rig.Step(i);
        rig.Guard.Trip("test");

        var action = rig.Step(10);

        Assert.Equal(GuardAction.RolledBack, action);
        Assert.Single(rig.Interventions);                             // the other handler still ran
        Assert.Single(rig.Logged(56));                                // GuardHandlerFailed: the guard's own id,
        Assert.Empty(rig.Logged(4));                                  // not the monitor's EventHandlerFailed
    }

    [Fact]
    public void Step_MonitorDisposed_DistinctEventOnce_AndTheGuardStillActsOnTheLoss()
    {
        using var rig = new GuardRig(new TrainingGuardOptions { SnapshotInterval = 5, RollbackMargin = 0 });
        for (int i = 0; i < 10; i++)
            rig.Step(i);
        rig.Monitor.Dispose();

        for (int i = 10; i < 15; i++)
            Assert.Equal(GuardAction.Continue, rig.Step(i));
        Assert.Equal(GuardAction.RolledBack, rig.Step(15, double.NaN));

        Assert.Single(rig.Logged(48));
    }

    [Fact]
    public void Constructor_OptimizerWithoutStateSupport_ThrowsAClearError()
    {
        using var model = Mlp(seed: 1);
        using var monitor = new SpectralMonitor();
        using var lbfgs = optim.LBFGS(model.parameters());

        var thrown = Assert.Throws<NotSupportedException>(() => new TrainingGuard(monitor, model, lbfgs));

        Assert.Contains("LBFGS", thrown.Message);
        Assert.Contains("SGD, Adam, AdamW", thrown.Message);
    }

    [Fact]
    public void Constructor_InvalidOptionsOrDisposedMonitor_ThrowsClearErrors()
    {
        using var model = Mlp(seed: 1);
        using var optimizer = optim.Adam(model.parameters());
        var monitor = new SpectralMonitor();

        var invalid = Assert.Throws<ArgumentException>(() => new TrainingGuard(monitor, model, optimizer, new TrainingGuardOptions { SnapshotInterval = 0, MaxInterventions = -1 }));
        Assert.Contains("2 problems", invalid.Message);
        monitor.Dispose();
        Assert.Throws<ObjectDisposedException>(() => new TrainingGuard(monitor, model, optimizer));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Step_RunTrigger_CorrectsEveryWatchedLayerOnlyWithCorrectAllOnRunTrigger(bool all)
    {
        using var rig = new GuardRig(new TrainingGuardOptions { Rollback = false, LearningRateFactor = 1, Correction = SpectralCorrection.MatrixSign, CorrectAllOnRunTrigger = all });
        for (int step = 0; step < 5; step++)
            rig.Step(step);
        rig.Guard.Trip("test");
        Assert.Equal(GuardAction.Adjusted, rig.Step(5));
        var intervention = Assert.Single(rig.Interventions);
        var watched = rig.Monitor.Watches.SelectMany(w => w.Layers).ToArray();
        if (!all)
        {
            Assert.Empty(intervention.Corrections);
            return;
        }

        Assert.Equal(watched, intervention.Corrections.Select(c => c.Layer));
        Assert.All(intervention.Corrections, c => Assert.True(c.Applied, c.Problem));
        foreach (var layer in watched)
        {
            // After the full matrix-sign step every singular value of the layer's weight is equal (SVD reference;
            // float32 Newton–Schulz, relative spread below 1e-3).
            var weight = rig.Model.named_parameters().Single(p => p.name == layer + ".weight").parameter;
            var s = Doubles(Svd(weight.unsqueeze(0)).S[0]);
            Assert.True(s.Max() / s.Min() - 1 <= 1e-3, $"{layer}: σ from {s.Min()} to {s.Max()}");
        }
    }

    [Fact]
    public void Step_LayerAlert_SmoothsTheAlertingLayerAndItsAttentionPartner_NotTheOthers()
    {
        manual_seed(3);
        using var q = nn.Linear(16, 16, hasBias: false);
        using var k = nn.Linear(16, 16, hasBias: false);
        using var v = nn.Linear(16, 16, hasBias: false);
        using var optimizer = optim.SGD(q.parameters().Concat(k.parameters()).Concat(v.parameters()), 1e-3);
        using var monitor = new SpectralMonitor(new SpectralMonitorOptions
        {
            Interval = 1,
            Detection = new() { WarmupSteps = 0, ConsecutiveMeasurements = 1, MinSamples = 1, Rules = [new FireFromStepRule("attn.q", 6)] },
        });
        monitor.Watch(q, "attn.q");
        monitor.Watch(k, "attn.k");
        monitor.Watch(v, "attn.v");
        using var model = nn.Sequential(("q", q), ("k", k), ("v", v));
        var options = new TrainingGuardOptions { Rollback = false, LearningRateFactor = 1, Correction = SpectralCorrection.Smooth, SmoothingRank = 2 };
        using var guard = new TrainingGuard(monitor, model, optimizer, options);
        var interventions = new List<GuardIntervention>();
        guard.Intervened += (_, i) => interventions.Add(i);
        var x = Layers.Randn([32, 16], ScalarType.Float32, seed: 4);
        Dictionary<string, byte[]> before = [];
        for (int step = 0; step <= 6; step++)
        {
            using var scope = NewDisposeScope();
            optimizer.zero_grad();
            (q.call(x).square().mean() + k.call(x).square().mean() + v.call(x).square().mean()).backward();
            optimizer.step();
            before = GuardKit.Bits(model);
            var qSvd = Doubles(Svd(q.weight!.unsqueeze(0)).S[0]);
            var action = guard.Step(1.0);
            if (step < 6)
                continue;

            Assert.Equal(GuardAction.Adjusted, action);
            var intervention = Assert.Single(interventions);
            Assert.Equal(["attn.q", "attn.k"], intervention.Corrections.Select(c => c.Layer));
            Assert.All(intervention.Corrections, c => Assert.True(c.Applied, c.Problem));
            foreach (var layer in new[] { q, k })
            {
                var s = Doubles(Svd(layer.weight!.unsqueeze(0)).S[0]);
                Assert.Equal(s[2], s[0], 1e-4);                       // top 2 flattened onto σ3
                Assert.Equal(s[2], s[1], 1e-4);
            }

            Assert.Equal(qSvd[2], Doubles(Svd(q.weight!.unsqueeze(0)).S[0])[2], 1e-4);
            Assert.Equal(before["v.weight"], RawBytes(v.weight!));
        }
    }

    [Fact]
    public void Step_Rank1WithoutRollback_SetsSigma1ToTheSnapshotsValue()
    {
        manual_seed(5);
        using var fc = nn.Linear(12, 10, hasBias: false);
        using var optimizer = optim.SGD(fc.parameters(), 1e-3);
        using var monitor = new SpectralMonitor(new SpectralMonitorOptions
        {
            Interval = 1,
            Detection = new() { WarmupSteps = 0, ConsecutiveMeasurements = 1, MinSamples = 1, Rules = [new FireFromStepRule("fc", 30)] },
        });
        monitor.Watch(fc, "fc");
        var options = new TrainingGuardOptions { Rollback = false, LearningRateFactor = 1, Correction = SpectralCorrection.Rank1, SnapshotInterval = 10, RollbackMargin = 5 };
        using var guard = new TrainingGuard(monitor, fc, optimizer, options);
        var x = Layers.Randn([16, 12], ScalarType.Float32, seed: 6);
        double sigmaAtSnapshot = 0;
        double[] beforeCorrection = [];
        for (int step = 0; step <= 30; step++)
        {
            using var scope = NewDisposeScope();
            optimizer.zero_grad();
            fc.call(x).square().mean().backward();
            optimizer.step();
            if (step == 20)
                sigmaAtSnapshot = Doubles(Svd(fc.weight!.unsqueeze(0)).S[0])[0];
            if (step == 29)
            {
                // A planted spike along the top singular direction: σ1 grows, σ2 does not.
                using var noGrad = no_grad();
                var (u, s, vh) = Svd(fc.weight!.unsqueeze(0));
                fc.weight!.add_((u[0, .., 0].outer(vh[0, 0]) * (2 * s[0, 0])).to(ScalarType.Float32));
            }

            if (step == 30)
                beforeCorrection = Doubles(Svd(fc.weight!.unsqueeze(0)).S[0]);
            guard.Step(1.0);
        }

        var after = Doubles(Svd(fc.weight!.unsqueeze(0)).S[0]);
        Assert.True(beforeCorrection[0] > 2 * sigmaAtSnapshot);
        Assert.Equal(sigmaAtSnapshot, after[0], 1e-4 * sigmaAtSnapshot);    // τ: σ1 in the snapshot of step 20
        Assert.Equal(beforeCorrection.Skip(1), after.Skip(1), (a, b) => Math.Abs(a - b) <= 1e-4 * sigmaAtSnapshot);
    }

    [Fact]
    public void Step_ScheduledMatrixSign_FlattensEveryWatchedLayerEveryNSteps()
    {
        using var rig = new GuardRig(new TrainingGuardOptions { ScheduledCorrection = SpectralCorrection.MatrixSign, ScheduleInterval = 5 });
        var stableRanks = new List<double>();
        for (int i = 0; i < 10; i++)
        {
            rig.Step(i);
            if (i is 4 or 9)
            {
                foreach (var name in new[] { "fc1.weight", "fc2.weight", "head.weight" })
                {
                    var s = Doubles(Svd(rig.Model.state_dict()[name].unsqueeze(0)).S[0]);
                    Assert.True(s.Max() / s.Min() - 1 <= 2e-4, $"{name} at step {i}: σ from {s.Min()} to {s.Max()}");
                }
            }
        }

        Assert.Equal(0, rig.Guard.Interventions);
        Assert.Equal(2, rig.Logged(52).Count);
    }

    [Fact]
    public void Step_EpisodeOpen_NoSnapshotsUntilQuiet()
    {
        using var rig = new GuardRig(new TrainingGuardOptions { SnapshotInterval = 5, SnapshotCount = 10, RollbackMargin = 0, QuietSteps = 20, CooldownSteps = 0 });
        for (int i = 0; i < 12; i++)
            rig.Step(i);
        rig.Guard.Trip("test");
        rig.Step(12);                                              // rolled back to step 10
        for (int i = 13; i < 40; i++)
            rig.Step(i);

        // Episode from 12 to 12 + 20: snapshots at 15, 20, 25, 30 skipped; 35 taken once it closed.
        Assert.Equal([0L, 5, 10, 35], rig.Guard.SnapshotSteps);
    }

    [Fact]
    public void Dispose_ReleasesTheSnapshots()
    {
        var rig = new GuardRig(new TrainingGuardOptions { SnapshotInterval = 1, SnapshotCount = 3 });
        for (int i = 0; i < 5; i++)
            rig.Step(i);
        long held = LiveTensors.Live();
        int tensorsPerSnapshot = rig.Model.state_dict().Count;

        rig.Guard.Dispose();

        Assert.Equal(held - 3 * tensorsPerSnapshot, LiveTensors.Live());
        Assert.Equal(0, rig.Guard.SnapshotBytes);
        Assert.Throws<ObjectDisposedException>(() => rig.Guard.Step(1));
        rig.Dispose();
    }

    [Fact]
    public void SaveStateLoadState_MidRecovery_ResumedRunIsBitIdentical()
    {
        var options = new TrainingGuardOptions { SnapshotInterval = 10, RollbackMargin = 0, LearningRateHoldSteps = 5, LearningRateRecoverySteps = 40, LossSpikeWindow = 10 };
        using var original = new GuardRig(options);
        for (int i = 0; i < 20; i++)
            original.Step(i);
        original.Guard.Trip("test");
        for (int i = 20; i < 30; i++)
            original.Step(i);
        using var guardState = new MemoryStream();
        original.Guard.SaveState(guardState);
        using var modelState = new MemoryStream();
        original.Model.save(new BinaryWriter(modelState));
        var optimizerState = GuardKit.Bits(original.Optimizer);
        var scales = new List<double>();
        for (int i = 30; i < 60; i++)
        {
            original.Step(i);
            scales.Add(original.Guard.LearningRateScale);
        }

        using var resumed = new GuardRig(options);
        modelState.Position = 0;
        resumed.Model.load(new BinaryReader(modelState));
        using (var reader = new BinaryReader(new MemoryStream(optimizerState)))
            resumed.Optimizer.load_state_dict(reader);
        guardState.Position = 0;
        Assert.Empty(resumed.Guard.LoadState(guardState));
        var resumedScales = new List<double>();
        for (int i = 30; i < 60; i++)
        {
            resumed.Step(i);
            resumedScales.Add(resumed.Guard.LearningRateScale);
        }

        Assert.Equal(original.Losses.Skip(30), resumed.Losses);
        Assert.Equal(scales, resumedScales);
        Assert.Contains(scales, s => s < 1);                     // the resume happened mid-recovery
        Assert.Equal(1, original.Guard.Interventions);
        Assert.Equal(1, resumed.Guard.Interventions);
        AssertSameBits(GuardKit.Bits(original.Model), GuardKit.Bits(resumed.Model));
    }

    [Fact]
    public void LoadState_NotAGuardState_ThrowsAndChangesNothing()
    {
        using var rig = new GuardRig();
        rig.Step(0);

        Assert.Throws<InvalidDataException>(() => rig.Guard.LoadState(new MemoryStream("{\"format\":\"other\"}"u8.ToArray())));
        Assert.Throws<InvalidDataException>(() => rig.Guard.LoadState(new MemoryStream("{\"format\":\"SpectralAlign.GuardState\",\"version\":1}"u8.ToArray())));
        Assert.Equal(1, rig.Guard.SnapshotCount);
        Assert.Equal(1, rig.Monitor.CurrentStep);
    }

    [Theory]
    [InlineData("[1]", "object")]
    [InlineData("{\"format\":7}", "format")]
    [InlineData("{\"format\":\"SpectralAlign.GuardState\",\"version\":\"one\"}", "version")]
    public void LoadState_NotAnObjectOrWrongType_ThrowsInvalidData(string json, string named)
    {
        using var rig = new GuardRig();
        rig.Step(0);

        var ex = Assert.Throws<InvalidDataException>(() => rig.Guard.LoadState(new MemoryStream(System.Text.Encoding.UTF8.GetBytes(json))));
        Assert.Contains(named, ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("step", "\"late\"", "step")]
    [InlineData("schedule.floor", "\"low\"", "schedule.floor")]
    [InlineData("scaler.scale", "0", "scaler.scale")]
    [InlineData("scaler.written", "[1, 2, 3, 4, 5, 6, 7, 8, 9]", "scaler.written")]
    [InlineData("losses", "[\"x\"]", "losses")]
    public void LoadState_BadField_ThrowsNamingItAndChangesNothing(string field, string json, string named)
    {
        using var rig = new GuardRig();
        for (int i = 0; i < 3; i++)
            rig.Step(i);
        using var saved = new MemoryStream();
        rig.Guard.SaveState(saved);
        var state = System.Text.Json.Nodes.JsonNode.Parse(saved.ToArray())!;
        var path = field.Split('.');
        var parent = path.Length == 1 ? state : state[path[0]]!;
        parent[path[^1]] = System.Text.Json.Nodes.JsonNode.Parse(json);
        for (int i = 3; i < 6; i++)
            rig.Step(i);
        long monitorStep = rig.Monitor.CurrentStep;
        int snapshots = rig.Guard.SnapshotCount;

        var ex = Assert.Throws<InvalidDataException>(() => rig.Guard.LoadState(new MemoryStream(System.Text.Encoding.UTF8.GetBytes(state.ToJsonString()))));

        Assert.Contains(named, ex.Message, StringComparison.Ordinal);
        Assert.Equal(monitorStep, rig.Monitor.CurrentStep);     // the monitor's state was not loaded either
        Assert.Equal(snapshots, rig.Guard.SnapshotCount);
    }
}
