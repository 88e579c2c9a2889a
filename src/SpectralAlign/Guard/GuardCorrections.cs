using Microsoft.Extensions.Logging;
using SpectralAlign.Guard.Remedies;
using SpectralAlign.Guard.Snapshots;
using SpectralAlign.Telemetry;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace SpectralAlign.Guard;

/// <summary>
/// The guard's spectral corrections: which layers an intervention corrects (the alerting ones, their attention
/// partners, or all on a run-level trigger, as the options say), the scheduled correction, and the logging and
/// telemetry of each layer's result. One layer's failure never stops the others.
/// </summary>
internal sealed class GuardCorrections(MonitorLayerAccess layers, nn.Module model, OptimizerHelper optimizer, TrainingGuardOptions options, ILogger logger)
{
    private readonly LayerCorrector _corrector = new(layers, model, optimizer, options, RemedySettings.Default);

    /// <summary>Applies <see cref="TrainingGuardOptions.Correction"/> to the layers <paramref name="triggers"/> point
    /// at; none when it is <see cref="SpectralCorrection.None"/>.</summary>
    /// <param name="step">The intervention's step.</param>
    /// <param name="triggers">The intervention's triggers.</param>
    /// <param name="reference">The rollback target, whose σ₁ a rank-1 correction aims at.</param>
    public IReadOnlyList<LayerCorrection> OnIntervention(long step, IEnumerable<GuardTrigger> triggers, TrainingSnapshot? reference) =>
        options.Correction == SpectralCorrection.None ? [] : Correct(step, options.Correction, LayersToCorrect(triggers), reference);

    /// <summary>Applies <see cref="TrainingGuardOptions.ScheduledCorrection"/> to every watched layer when
    /// <paramref name="step"/> is due.</summary>
    public void RunSchedule(long step)
    {
        if (options.ScheduledCorrection == SpectralCorrection.None || (step + 1) % options.ScheduleInterval != 0)
            return;
        var names = layers.LayerNames;
        var results = Correct(step, options.ScheduledCorrection, names, reference: null);
        int applied = results.Count(r => r.Applied);
        Log.GuardScheduledCorrection(logger, options.ScheduledCorrection, step, applied, names.Count);
    }

    private List<string> LayersToCorrect(IEnumerable<GuardTrigger> triggers)
    {
        var names = triggers.Where(t => t.Kind == GuardTriggerKind.Alert && t.Layer != CollapseAlert.RunLayer).Select(t => t.Layer).Distinct().ToList();
        if (names.Count == 0 && options.CorrectAllOnRunTrigger)
            return [.. layers.LayerNames];
        if (!options.CorrectAttentionPartner)
            return names;
        var watched = layers.LayerNames;
        foreach (var name in names.ToArray())
        {
            string? partner = name.EndsWith(".q", StringComparison.Ordinal) ? name[..^1] + "k"
                : name.EndsWith(".k", StringComparison.Ordinal) ? name[..^1] + "q" : null;
            if (partner is not null && !names.Contains(partner) && watched.Contains(partner))
                names.Add(partner);
        }

        return names;
    }

    private List<LayerCorrection> Correct(long step, SpectralCorrection correction, IReadOnlyList<string> names, TrainingSnapshot? reference)
    {
        var results = new List<LayerCorrection>(names.Count);
        foreach (var layer in names)
        {
            LayerCorrection result;
            try
            {
                result = _corrector.Correct(layer, correction, reference);
            }
#pragma warning disable CA1031 // One layer's failed correction must not stop the others or the loop.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                Log.GuardFailed(logger, step, $"{correction} of '{layer}'", ex);
                result = new LayerCorrection(layer, correction, false, double.NaN, double.NaN, ex.Message);
            }

            if (result.Applied)
                Log.GuardCorrected(logger, correction, layer, step, result.SpectralNormBefore, result.SpectralNormAfter);
            if (!result.Applied)
                Log.GuardCorrectionRefused(logger, correction, layer, step, result.Problem ?? "refused");
            else if (result.Problem is not null)
                Log.GuardMomentsKept(logger, layer, result.Problem);
            GuardTelemetry.Corrected(correction, result.Applied, logger);
            results.Add(result);
        }

        return results;
    }
}
