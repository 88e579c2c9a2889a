using Microsoft.Extensions.Logging;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace SpectralAlign.Telemetry;

/// <summary>
/// An opt-in sink that writes the monitor's measurements to a TensorBoard event file through TorchSharp's own
/// <c>torch.utils.tensorboard.SummaryWriter</c>: per watched layer and measured step, a histogram of the SA values
/// (<c>{prefix}/{layer}/sa</c>) and the scalars <c>sa_mean</c>, <c>sign_diversity</c>, <c>spectral_norm</c> and
/// <c>stable_rank</c>, plus alerts as text. Register with <see cref="SpectralMonitor.AddSink"/>.
/// </summary>
/// <remarks>
/// <para>The histogram is rebuilt from <see cref="SpectralAlignmentStats.Histogram"/> (the monitor keeps no raw SA
/// values): each bin's count is spread evenly over the bin, so its resolution is
/// <see cref="SpectralMonitorOptions.HistogramBins"/> bins over [-1, 1]. Scalars are written as float32 (TensorBoard's
/// own precision); non-finite values and the SA scalars of a measurement without valid rows are skipped.</para>
/// <para>SummaryWriter appends and flushes each event as it is written, so the file is readable during the run.
/// Never throws into the training loop: failures are logged (event id 21).</para>
/// </remarks>
public sealed class TensorBoardSink : ISpectralSink
{
    private readonly TensorBoardOptions _options;
    private readonly ILogger _logger;
    private readonly SummaryWriter _writer;
    private readonly object _gate = new();

    /// <summary>Creates the log directory and the event file.</summary>
    /// <param name="options">Settings; validated and copied.</param>
    /// <param name="logger">Receives write failures; <c>null</c> for none.</param>
    /// <exception cref="ArgumentException">The options are invalid; the message lists every problem.</exception>
    /// <exception cref="IOException">The directory or the event file cannot be created.</exception>
    public TensorBoardSink(TensorBoardOptions options, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        OptionProblems.ThrowIfAny(options.Validate(), nameof(TensorBoardOptions), nameof(options));
        _options = options.Clone();
        _logger = SafeLogger.Wrap(logger);
        _writer = TorchSharp.torch.utils.tensorboard.SummaryWriter(Path.GetFullPath(_options.LogDirectory));
    }

    /// <summary>The directory the event file is written to.</summary>
    public string LogDirectory => _writer.LogDir;

    /// <summary>The tag of a layer's quantity: <c>{TagPrefix}/{layer}/{quantity}</c>.</summary>
    /// <param name="layer">The layer name.</param>
    /// <param name="quantity">One of <c>sa</c>, <c>sa_mean</c>, <c>sign_diversity</c>, <c>spectral_norm</c>,
    /// <c>stable_rank</c>, <c>alerts</c>.</param>
    /// <returns>The tag.</returns>
    public string Tag(string layer, string quantity) => $"{_options.TagPrefix}/{layer}/{quantity}";

    /// <summary>Writes the step's histograms, scalars and alerts.</summary>
    /// <param name="report">The step's measurements and alerts.</param>
    public void OnStep(StepReport report)
    {
        ArgumentNullException.ThrowIfNull(report);
        int step = (int)Math.Clamp(report.Step, 0, int.MaxValue);
        lock (_gate)
        {
            try
            {
                foreach (var m in report.Measurements)
                    Write(m, step);
                if (_options.AlertText)
                {
                    foreach (var alert in report.Alerts)
                        _writer.add_text(Tag(alert.Layer, "alerts"), $"{alert.Reason} at step {alert.Step} (episode since step {alert.EpisodeStartStep}): {alert.Detail}", step);
                }
            }
#pragma warning disable CA1031 // A failing sink must never stop training.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                Log.TensorBoardWriteFailed(_logger, LogDirectory, report.Step, ex);
            }
        }
    }

    private void Write(LayerMeasurement m, int step)
    {
        var s = m.Stats;
        if (s.Count > 0)
        {
            if (_options.Histograms && s.Histogram.Count > 0)
            {
                using var scope = NewDisposeScope();
                using var noGrad = no_grad();
                using var values = tensor(SpreadOverBins(s.Histogram), dtype: ScalarType.Float64);
                _writer.add_histogram(Tag(m.Layer, "sa"), values, step);
            }

            _writer.add_scalar(Tag(m.Layer, "sa_mean"), (float)s.Mean, step);
            _writer.add_scalar(Tag(m.Layer, "sign_diversity"), (float)s.SignDiversity, step);
        }

        if (double.IsFinite(m.SpectralNorm) && m.SpectralNorm > 0)
        {
            _writer.add_scalar(Tag(m.Layer, "spectral_norm"), (float)m.SpectralNorm, step);
            _writer.add_scalar(Tag(m.Layer, "stable_rank"), (float)m.StableRank, step);
        }
    }

    /// <summary>Values that reproduce the histogram: each bin's count, spread evenly inside the bin.</summary>
    internal static double[] SpreadOverBins(IReadOnlyList<int> histogram)
    {
        int bins = histogram.Count;
        double width = 2.0 / bins;
        var values = new double[histogram.Sum()];
        int k = 0;
        for (int b = 0; b < bins; b++)
        {
            int count = histogram[b];
            double start = -1 + b * width;
            for (int i = 0; i < count; i++)
                values[k++] = start + (i + 0.5) * width / count;
        }

        return values;
    }
}
