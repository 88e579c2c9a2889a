namespace SpectralAlign.Telemetry;

/// <summary>
/// The on-disk format of an offline capture (version 1), written by <see cref="OfflineCaptureSink"/> and read by
/// <see cref="OfflineAnalyzer"/>:
/// <list type="bullet">
/// <item><c>capture.json</c>: <c>format</c> ("spectralalign-capture"), <c>version</c>, <c>created</c>, and the
/// measurement settings of the monitor that captured (<c>interval</c>, <c>maxSamplesPerLayer</c>,
/// <c>histogramBins</c>, <c>seed</c>, <c>powerIterations</c>, <c>maxWarmIterations</c>, <c>subspaceDimension</c>,
/// <c>residualTolerance</c>, <c>restartResidual</c>, <c>maxPowerIterations</c>) when it was given them.</item>
/// <item><c>manifest.jsonl</c>: JSON Lines, one record per layer per saved step, appended after the record's tensor
/// files are complete: <c>step</c>, <c>layer</c>, <c>inputRows</c> (rows the layer saw before subsampling),
/// <c>rows</c> and <c>weight</c> (file paths relative to the capture directory; <c>rows</c> absent when the layer
/// saw no input), <c>rowsShape</c>, <c>weightShape</c>, <c>rowsDType</c>, <c>weightDType</c>, and <c>upstream</c>:
/// the name of the layer linked to this one on this step (its <see cref="LayerMeasurement.UpstreamAlignment"/> is
/// measured against it), absent when it has none — and in captures written before it was recorded, which the
/// analyser still reads (their upstream alignment is NaN).</item>
/// <item><c>steps/&lt;step&gt;/&lt;layer&gt;.rows.pt</c> and <c>.weight.pt</c>: the subsampled input rows as a
/// (G × rows × n) tensor and the weight as a (G × m × n) tensor — G = 1 except for grouped convolutions, whose groups
/// are separate matrices; for a convolution the rows are the unfolded patches — in their own dtype, in TorchSharp's
/// tensor format (<c>torch.save</c> / <c>torch.load</c>). A 2-D weight (older captures) is one group.</item>
/// </list>
/// </summary>
internal static class CaptureFormat
{
    public const string FormatName = "spectralalign-capture";
    public const int FormatVersion = 1;
    public const string HeaderFile = "capture.json";
    public const string ManifestFile = "manifest.jsonl";
    public const string StepsDirectory = "steps";
}

/// <summary>The <c>capture.json</c> header.</summary>
internal sealed class CaptureHeader
{
    public string Format { get; set; } = CaptureFormat.FormatName;
    public int Version { get; set; } = CaptureFormat.FormatVersion;
    public DateTimeOffset Created { get; set; }
    public int? Interval { get; set; }
    public int? MaxSamplesPerLayer { get; set; }
    public int? HistogramBins { get; set; }
    public int? Seed { get; set; }
    public int? PowerIterations { get; set; }
    public int? MaxWarmIterations { get; set; }
    public int? SubspaceDimension { get; set; }
    public double? ResidualTolerance { get; set; }
    public double? RestartResidual { get; set; }
    public int? MaxPowerIterations { get; set; }
}

/// <summary>One line of <c>manifest.jsonl</c>.</summary>
internal sealed class CaptureManifestLine
{
    public long Step { get; set; }
    public string Layer { get; set; } = "";
    public long InputRows { get; set; }
    public string? Rows { get; set; }
    public string Weight { get; set; } = "";
    public long[]? RowsShape { get; set; }
    public long[] WeightShape { get; set; } = [];
    public string? RowsDType { get; set; }
    public string WeightDType { get; set; } = "";
    public string? Upstream { get; set; }
}
