using System.Text;
using SpectralAlign.Telemetry;
using SpectralAlign.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace SpectralAlign.Tests.Telemetry;

public sealed class RunLogTests
{
    private static void AssertSameMeasurement(LayerMeasurement expected, LayerMeasurement actual)
    {
        Assert.Equal(expected.Layer, actual.Layer);
        Assert.Equal(expected.Step, actual.Step);
        // JSON round-trips doubles exactly (shortest round-trippable form).
        Assert.Equal(expected.Stats.Count, actual.Stats.Count);
        Assert.Equal(expected.Stats.ZeroRows, actual.Stats.ZeroRows);
        Assert.Equal(expected.Stats.NonFiniteRows, actual.Stats.NonFiniteRows);
        Assert.Equal(expected.Stats.Mean, actual.Stats.Mean);
        Assert.Equal(expected.Stats.StdDev, actual.Stats.StdDev);
        Assert.Equal(expected.Stats.PositiveFraction, actual.Stats.PositiveFraction);
        Assert.Equal(expected.Stats.SignDiversity, actual.Stats.SignDiversity);
        Assert.Equal(
            [expected.Stats.Min, expected.Stats.P05, expected.Stats.P25, expected.Stats.Median, expected.Stats.P75, expected.Stats.P95, expected.Stats.Max],
            [actual.Stats.Min, actual.Stats.P05, actual.Stats.P25, actual.Stats.Median, actual.Stats.P75, actual.Stats.P95, actual.Stats.Max]);
        Assert.Equal(expected.Stats.Histogram, actual.Stats.Histogram);
        Assert.Equal(expected.SpectralNorm, actual.SpectralNorm);
        Assert.Equal(expected.SecondSingularValue, actual.SecondSingularValue);
        Assert.Equal(expected.FrobeniusNorm, actual.FrobeniusNorm);
        Assert.Equal(expected.StableRank, actual.StableRank);
        Assert.Equal(expected.Residual, actual.Residual);
        Assert.Equal(expected.Iterations, actual.Iterations);
        Assert.Equal(expected.InputMeanAlignment, actual.InputMeanAlignment);
        Assert.Equal(expected.MaxAbsInput, actual.MaxAbsInput);
        Assert.Equal(expected.InputRows, actual.InputRows);
        Assert.Equal(expected.MaxInputRowNorm, actual.MaxInputRowNorm);
        Assert.Equal(expected.UpdateRatio, actual.UpdateRatio);
        Assert.Equal(expected.UpstreamAlignment, actual.UpstreamAlignment);
        Assert.Equal(expected.Conditions, actual.Conditions);
    }

    [Fact]
    public void OnStep_RunLevelAlert_IsWrittenAndReadBack()
    {
        using var dir = new TempDirectory();
        var runAlert = new CollapseAlert { Layer = CollapseAlert.RunLayer, Step = 7, Reason = AlertReasons.LossSpike, Detail = "loss 9.5 > 4.0", EpisodeStartStep = 5 };
        using (var writer = new RunLogWriter(new RunLogOptions { Path = dir.File("run.jsonl") }))
        {
            writer.OnStep(new StepReport { Step = 7, Alerts = [runAlert] });   // an unmeasured step with a run alert
            var measured = Reports.Run(1).Single();
            writer.OnStep(new StepReport { Step = 0, Measurements = measured.Measurements, Alerts = [Reports.Alert(measured.Measurements[1]), runAlert] });
        }

        var log = RunLogReader.Read(dir.File("run.jsonl"));

        Assert.Equal(3, log.Alerts.Count);
        var run = log.Alerts.Where(a => a.Layer == CollapseAlert.RunLayer).ToList();
        Assert.Equal(2, run.Count);
        Assert.All(run, a => Assert.Equal((7L, AlertReasons.LossSpike, "loss 9.5 > 4.0", 5L), (a.Step, a.Reason, a.Detail, a.EpisodeStartStep)));
        Assert.All(run, a => Assert.Null(a.Measurement));
        Assert.Single(log.Alerts, a => a.Layer == "blocks.0/b" && a.Measurement is not null);
    }

    [Fact]
    public void Header_Created_ComesFromTheTimeProvider()
    {
        using var dir = new TempDirectory();
        var now = new DateTimeOffset(2031, 2, 3, 4, 5, 6, TimeSpan.Zero);
        using (new RunLogWriter(new RunLogOptions { Path = dir.File("run.jsonl"), TimeProvider = new FixedTimeProvider(now) }))
        {
        }

        Assert.Equal(now, RunLogReader.Read(dir.File("run.jsonl")).Created);
    }

    [Fact]
    public void Read_ManyMegabytesOfBlankLines_StreamsInsteadOfBufferingTheFile()
    {
        // 48 MB: blank lines between the header and one measurement. Reading must not hold the file in memory.
        const int lines = 48 * 1024;
        var blank = Encoding.UTF8.GetBytes(new string(' ', 1023) + "\n");
        var header = Encoding.UTF8.GetBytes("{\"type\":\"header\",\"format\":\"spectralalign-runlog\",\"version\":1,\"tags\":{}}\n");
        var record = Encoding.UTF8.GetBytes("{\"type\":\"measurement\",\"step\":3,\"layer\":\"l\"}\n");
        var stream = new RepeatingStream(header, blank, lines, record);

        long before = GC.GetAllocatedBytesForCurrentThread();
        var log = RunLogReader.Read(stream);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(3, Assert.Single(log.Measurements).Step);
        Assert.True(allocated < 4L << 20, $"reading a {stream.Length >> 20} MB log allocated {allocated >> 20} MB");
    }

    /// <summary>A read-only stream of a prefix, a line repeated many times, and a suffix, generated on the fly.</summary>
    private sealed class RepeatingStream(byte[] prefix, byte[] line, int count, byte[] suffix) : Stream
    {
        private long _position;

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => prefix.Length + (long)line.Length * count + suffix.Length;
        public override long Position { get => _position; set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int length)
        {
            int n = 0;
            while (n < length && _position < Length)
            {
                long p = _position;
                byte b = p < prefix.Length ? prefix[p]
                    : (p -= prefix.Length) < (long)line.Length * count ? line[p % line.Length]
                    : suffix[p - (long)line.Length * count];
                buffer[offset + n++] = b;
                _position++;
            }

            return n;
        }

        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }

    [Fact]
    public void Read_WhatTheWriterWrote_RoundTripsEveryField()
    {
        using var dir = new TempDirectory();
        var reports = Reports.Run(6, alertStep: 40).ToList();
        using (var writer = new RunLogWriter(new RunLogOptions { Path = dir.File("run.jsonl"), Tags = { ["run"] = "r1", ["rank"] = "0" } }))
        {
            foreach (var report in reports)
                writer.OnStep(report);
            writer.WriteScalar(41, "loss", double.PositiveInfinity);
            writer.WriteScalar(42, "loss", 2.5);
            writer.WriteMarker(43, "loss_explosion", "smoothed loss 4.1");
        }

        var log = RunLogReader.Read(dir.File("run.jsonl"));

        Assert.False(log.TruncatedTail);
        Assert.Equal(new Dictionary<string, string> { ["run"] = "r1", ["rank"] = "0" }, log.Tags);
        Assert.NotNull(log.Created);
        Assert.Equal(["a", "blocks.0/b"], log.Layers);
        var expected = reports.SelectMany(r => r.Measurements).ToList();
        Assert.Equal(expected.Count, log.Measurements.Count);
        for (int i = 0; i < expected.Count; i++)
            AssertSameMeasurement(expected[i], log.Measurements[i]);
        var alert = Assert.Single(log.Alerts);
        Assert.Equal(("blocks.0/b", 40L, AlertReasons.SignCollapse, 20L, "|mean SA| 0.41 ≥ 0.30"), (alert.Layer, alert.Step, alert.Reason, alert.EpisodeStartStep, alert.Detail));
        Assert.Same(log.Measurements.Single(m => m.Layer == "blocks.0/b" && m.Step == 40), alert.Measurement);
        Assert.Equal([(41L, "loss", double.PositiveInfinity), (42L, "loss", 2.5)], log.Scalars.Select(s => (s.Step, s.Name, s.Value)));
        var marker = Assert.Single(log.Markers);
        Assert.Equal((43L, "loss_explosion", "smoothed loss 4.1"), (marker.Step, marker.Name, marker.Detail));
        Assert.Equal([0L, 10, 20, 30, 40, 50], log.ForLayer("a").Select(m => m.Step));
    }

    [Fact]
    public void OnStep_FlushesEveryStep_ALiveWriterIsReadableUpToTheLastStep()
    {
        using var dir = new TempDirectory();
        var writer = new RunLogWriter(new RunLogOptions { Path = dir.File("run.jsonl") });
        try
        {
            foreach (var report in Reports.Run(4))
            {
                writer.OnStep(report);
                // The writer is neither disposed nor flushed by us: this is what a killed process leaves behind.
                var log = RunLogReader.Read(dir.File("run.jsonl"));
                Assert.Equal(report.Step, log.Measurements[^1].Step);
                Assert.Equal((int)(report.Step / 10 + 1) * 2, log.Measurements.Count);
            }
        }
        finally
        {
            writer.Dispose();
        }
    }

    [Fact]
    public void Read_FileCutAtEveryByteOfTheLastRecord_ReturnsEveryCompleteRecord()
    {
        using var dir = new TempDirectory();
        var path = dir.File("run.jsonl");
        using (var writer = new RunLogWriter(new RunLogOptions { Path = path }))
        {
            foreach (var report in Reports.Run(3, alertStep: 20))
                writer.OnStep(report);
        }

        var bytes = File.ReadAllBytes(path);
        int lastLineStart = Array.LastIndexOf(bytes, (byte)'\n', bytes.Length - 2) + 1;
        var cutPath = dir.File("cut.jsonl");
        for (int cut = lastLineStart + 1; cut < bytes.Length - 1; cut++)
        {
            File.WriteAllBytes(cutPath, bytes.AsSpan(0, cut).ToArray());
            var log = RunLogReader.Read(cutPath);
            Assert.True(log.TruncatedTail, $"cut at {cut}");
            Assert.Equal(5, log.Measurements.Count);
            Assert.Empty(log.Alerts); // the alert was on the record that was cut
            Assert.Equal(("a", 20L), (log.Measurements[^1].Layer, log.Measurements[^1].Step));
        }

        // Cut exactly before the final newline: the record is whole and is kept.
        File.WriteAllBytes(cutPath, bytes.AsSpan(0, bytes.Length - 1).ToArray());
        var whole = RunLogReader.Read(cutPath);
        Assert.Equal(6, whole.Measurements.Count);
        Assert.Single(whole.Alerts);
    }

    [Fact]
    public void Read_MalformedLineBeforeTheEnd_ThrowsNamingTheLine()
    {
        using var dir = new TempDirectory();
        var path = dir.File("run.jsonl");
        using (var writer = new RunLogWriter(new RunLogOptions { Path = path }))
        {
            foreach (var report in Reports.Run(2))
                writer.OnStep(report);
        }

        var lines = File.ReadAllLines(path).ToList();
        lines[2] = lines[2][..20];
        File.WriteAllLines(path, lines);

        var ex = Assert.Throws<InvalidDataException>(() => RunLogReader.Read(path));
        Assert.Contains("line 3", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("[null]")]
    [InlineData("[{\"reason\": null, \"detail\": \"d\", \"episodeStart\": 1}]")]
    public void Read_MeasurementWithANullOrReasonlessAlert_ThrowsInvalidDataNamingTheLine(string alerts)
    {
        var log = "{\"type\":\"header\",\"format\":\"spectralalign-runlog\",\"version\":1,\"tags\":{}}\n"
            + "{\"type\":\"measurement\",\"step\":3,\"layer\":\"l\",\"alerts\":" + alerts + "}\n";

        var ex = Assert.Throws<InvalidDataException>(() => RunLogReader.Read(new MemoryStream(Encoding.UTF8.GetBytes(log))));

        Assert.Contains("line 2", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Constructor_AppendAfterAKilledWriter_CutsThePartialLineAndContinues()
    {
        using var dir = new TempDirectory();
        var path = dir.File("run.jsonl");
        var reports = Reports.Run(4).ToList();
        using (var writer = new RunLogWriter(new RunLogOptions { Path = path }))
        {
            writer.OnStep(reports[0]);
            writer.OnStep(reports[1]);
        }

        File.AppendAllText(path, "{\"type\":\"measurement\",\"step\":20,\"lay", Encoding.UTF8); // killed mid-record
        using (var writer = new RunLogWriter(new RunLogOptions { Path = path, Append = true }))
        {
            writer.OnStep(reports[2]);
            writer.OnStep(reports[3]);
        }

        var log = RunLogReader.Read(path);
        Assert.False(log.TruncatedTail);
        Assert.Equal([0L, 0, 10, 10, 20, 20, 30, 30], log.Measurements.Select(m => m.Step));
        Assert.Single(File.ReadLines(path), l => l.Contains("\"header\"", StringComparison.Ordinal));
    }

    [Fact]
    public void WriteScalar_AfterDispose_IsIgnoredAndDoesNotThrow()
    {
        using var dir = new TempDirectory();
        var writer = new RunLogWriter(new RunLogOptions { Path = dir.File("run.jsonl") });
        writer.WriteScalar(0, "loss", 1);
        writer.Dispose();
        writer.WriteScalar(1, "loss", 2);
        writer.OnStep(Reports.Run(1).Single());
        writer.Dispose();

        var log = RunLogReader.Read(dir.File("run.jsonl"));
        Assert.Equal([0L], log.Scalars.Select(s => s.Step));
        Assert.Empty(log.Measurements);
    }

    [Fact]
    public void Constructor_InvalidOptions_ListsEveryProblem()
    {
        var ex = Assert.Throws<ArgumentException>(() => new RunLogWriter(new RunLogOptions { Path = " ", Tags = new Dictionary<string, string> { [""] = "x" } }));
        Assert.Contains("2 problems", ex.Message, StringComparison.Ordinal);
        Assert.Contains("Path", ex.Message, StringComparison.Ordinal);
        Assert.Contains("Tags", ex.Message, StringComparison.Ordinal);
    }
}

/// <summary>The run log attached to a live monitor.</summary>
[Collection(TorchCollection.Name)]
public sealed class RunLogMonitorTests
{
    [Fact]
    public void AddSink_RunLogOfALiveMonitor_HoldsEveryMeasurementAndAlert()
    {
        using var dir = new TempDirectory();
        using var layer = Layers.Gapped(8, 16, ScalarType.Float32, seed: 1);
        using var harness = new MonitorHarness(new SpectralMonitorOptions
        {
            Interval = 2,
            Detection = { WarmupSteps = 0, ConsecutiveMeasurements = 1, Rules = [new SpectralAlign.Detection.AbsoluteSignCollapseRule()] },
        });
        var monitor = harness.Monitor;
        monitor.Watch(layer, "l");
        using (var writer = new RunLogWriter(new RunLogOptions { Path = dir.File("run.jsonl") }))
        using (monitor.AddSink(writer))
        {
            using var v1 = tensor(Reference.Svd(layer.weight!).V1, dtype: ScalarType.Float32);
            for (int step = 0; step < 8; step++)
            {
                using var scope = NewDisposeScope();
                using var noGrad = no_grad();
                // From step 4 on, every row leans towards v1: a one-sided distribution.
                var x = Layers.Randn([64, 16], ScalarType.Float32, seed: step) + (step >= 4 ? 3 * v1 : zeros(16));
                layer.call(x);
                monitor.Step();
            }
        }

        var log = RunLogReader.Read(dir.File("run.jsonl"));
        var (online, onlineAlerts) = (harness.Measurements, harness.Alerts);
        Assert.Equal(online.Count, log.Measurements.Count);
        Assert.Equal(online.Select(m => (m.Step, m.Stats.Mean, m.Stats.SignDiversity, m.SpectralNorm, m.Conditions)),
            log.Measurements.Select(m => (m.Step, m.Stats.Mean, m.Stats.SignDiversity, m.SpectralNorm, m.Conditions)));
        Assert.NotEmpty(onlineAlerts);
        Assert.Equal(onlineAlerts.Select(a => (a.Step, a.Reason, a.Detail)), log.Alerts.Select(a => (a.Step, a.Reason, a.Detail)));
    }
}
