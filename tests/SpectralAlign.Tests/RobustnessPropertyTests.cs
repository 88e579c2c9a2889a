using FsCheck;
using FsCheck.Fluent;
using Microsoft.FSharp.Core;
using SpectralAlign.Detection;
using SpectralAlign.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace SpectralAlign.Tests;

/// <summary>
/// Property-based abuse: random shapes, dtypes and contents (zeros, NaN, ±Inf, ±1e30, denormals, a single row, a
/// 1×1 weight). The hook and <see cref="SpectralMonitor.Step()"/> never throw, statistics are never NaN, and problems are
/// reported as flags and as the distinct <see cref="AlertReasons.NonFinite"/> alert.
/// </summary>
[Collection(TorchCollection.Name)]
public sealed class RobustnessPropertyTests
{
    private static readonly float[] Specials = [0f, -0f, float.NaN, float.PositiveInfinity, float.NegativeInfinity, 1e30f, -1e30f, 1e-40f, -1e-45f, 1f, -1f];

    private static readonly ScalarType[] Dtypes = [ScalarType.Float32, ScalarType.Float64, ScalarType.Float16, ScalarType.BFloat16];

    /// <summary>One abuse case: a weight and an input of given shapes, dtype and contents.</summary>
    public sealed record Case(int Out, int In, long[] InputShape, ScalarType Dtype, float[] Weight, float[] Input)
    {
        public override string ToString() =>
            $"W {Out}x{In}, x [{string.Join(",", InputShape)}], {Dtype}, W=[{string.Join(",", Weight.Take(12))}], x=[{string.Join(",", Input.Take(12))}]";
    }

    private static Gen<float> Values() => Gen.Frequency(
        (3, Gen.Choose(-1000, 1000).Select(i => i / 100f)),
        (1, Gen.Elements(Specials)));

    private static Gen<Case> Cases() =>
        from outF in Gen.Choose(1, 6)
        from inF in Gen.Choose(1, 6)
        from rows in Gen.Choose(1, 5)
        from rank3 in Gen.Elements(false, true)
        from dtype in Gen.Elements(Dtypes)
        from uniformWeight in Gen.Elements(false, false, true)
        from weight in Values().ArrayOf(outF * inF)
        from input in Values().ArrayOf(rows * (rank3 ? 2 : 1) * inF)
        select new Case(outF, inF, rank3 ? [rows, 2, inF] : [rows, inF], dtype, uniformWeight ? weight.Select(_ => weight[0]).ToArray() : weight, input);

    [Fact]
    public void Monitor_AbusiveShapesDtypesAndContents_NeverThrowsNeverNaN_ReportsNonFinite()
    {
        var config = Config.QuickThrowOnFailure
            .WithMaxTest(200)
            .WithReplay(FSharpOption<Replay>.Some(new Replay(new Rnd(20261124UL, 0x9E3779B97F4A7C15UL), FSharpOption<int>.None)));
        Check.One(config, Prop.ForAll(Cases().ToArbitrary(), (Action<Case>)CheckCase));
    }

    [Theory]
    [InlineData(1, 1, 1)]
    [InlineData(1, 7, 1)]
    [InlineData(7, 1, 3)]
    public void Monitor_DegenerateShapes_MeasureWithoutNaN(int outFeatures, int inFeatures, int rows)
    {
        CheckCase(new Case(outFeatures, inFeatures, [rows, inFeatures], ScalarType.Float32,
            Enumerable.Range(1, outFeatures * inFeatures).Select(i => (float)Math.Sin(i)).ToArray(),
            Enumerable.Range(1, rows * inFeatures).Select(i => (float)Math.Cos(i)).ToArray()));
    }

    private static void CheckCase(Case c)
    {
        using var scope = NewDisposeScope();
        var weight = tensor(c.Weight, [c.Out, c.In]).to(c.Dtype);
        var input = tensor(c.Input, c.InputShape).to(c.Dtype);
        bool weightFinite = weight.isfinite().all().item<bool>();
        bool inputFinite = input.isfinite().all().item<bool>();
        using var layer = Layers.WithWeight(weight);
        var options = new SpectralMonitorOptions
        {
            Interval = 1,
            Detection = new DetectionOptions { WarmupSteps = 0, MinSamples = 1, Rules = [new BaselineRelativeRule { BaselineMeasurements = 2 }, new AbsoluteSignCollapseRule()] },
        };
        using var harness = new MonitorHarness(options);
        harness.Monitor.Watch(layer, "l");

        harness.Step(4, (layer, input));   // neither the hook nor Step() may throw (torch's own forward accepts these inputs)
        var (measurements, alerts) = (harness.Measurements, harness.Alerts);

        Assert.Equal(4, measurements.Count);
        foreach (var m in measurements)
        {
            var s = m.Stats;
            double[] values = [s.Mean, s.StdDev, s.PositiveFraction, s.SignDiversity, s.Min, s.P05, s.P25, s.Median, s.P75, s.P95, s.Max,
                m.SpectralNorm, m.SecondSingularValue, m.FrobeniusNorm, m.StableRank, m.GapRatio, m.Residual, m.InputMeanAlignment, m.MaxAbsInput];
            Assert.All(values, v => Assert.False(double.IsNaN(v), $"NaN in {m}"));
            Assert.InRange(s.Mean, -1, 1);
            Assert.InRange(s.SignDiversity, 0, 1);
            Assert.Equal(s.Count, s.Histogram.Sum());
            Assert.Equal(!weightFinite, m.Conditions.HasFlag(MeasurementConditions.NonFiniteWeight));
            Assert.Equal(!inputFinite, m.Conditions.HasFlag(MeasurementConditions.NonFiniteInput));
            // Every sampled row is accounted for whenever v1 exists (all rows are sampled here).
            if (!m.Conditions.HasFlag(MeasurementConditions.NonFiniteWeight) && !m.Conditions.HasFlag(MeasurementConditions.ZeroWeight))
                Assert.Equal(m.InputRows, s.Count + s.ZeroRows + s.NonFiniteRows);
        }

        bool nonFinite = !weightFinite || !inputFinite;
        Assert.Equal(nonFinite ? 1 : 0, alerts.Count(a => a.Reason == AlertReasons.NonFinite));
    }
}
