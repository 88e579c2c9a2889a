using SpectralAlign.Detection;

namespace SpectralAlign.Scenarios;

/// <summary>
/// The detectors the demo runs side by side: the library's default rule (uncalibrated), the paper's one-sidedness
/// score with per-layer thresholds calibrated on healthy reference runs, the two baselines that did best in the
/// evaluation (calibrated max-activation and σ1 growth), and the usual run-level spike checks.
/// </summary>
public static class DemoDetection
{
    /// <summary>The rules that get calibrated (fresh instances).</summary>
    /// <returns>The detection options holding them.</returns>
    /// <remarks>The spike checks keep the settings the committed calibration
    /// (<c>samples/Demo/gpt-norm.calibration.json</c>) was fitted with: a 100-step window judged from 20 values, and
    /// the options' 5 consecutive steps instead of OLMo's single step (the rules' defaults since).</remarks>
    public static DetectionOptions CalibratedRules() => new()
    {
        Rules =
        [
            new AbsoluteSignCollapseRule(),
            new MaxActivationGrowthRule(),
            new SpectralNormGrowthRule(),
            new GradientNormSpikeRule { WindowSteps = 100, MinSamples = 20, Persistence = null },
            new LossSpikeRule { WindowSteps = 100, MinSamples = 20, Persistence = null },
        ],
    };

    /// <summary>The demo's options: the default rule plus the calibrated set.</summary>
    /// <param name="calibration">The calibration of the calibrated set.</param>
    /// <returns>The options.</returns>
    public static DetectionOptions Options(DetectionCalibration calibration)
    {
        var options = CalibratedRules();
        options.Rules.Insert(0, new BaselineRelativeRule());
        options.Calibration = calibration;
        return options;
    }
}
