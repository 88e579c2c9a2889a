using System.Text.Json;
using System.Text.Json.Nodes;
using SpectralAlign.Guard.LearningRate;

namespace SpectralAlign.State;

/// <summary>
/// Turns the guard's <see cref="GuardState"/> into a <see cref="GuardStateDocument"/> and back. Reading validates the
/// whole document before returning, and throws <see cref="InvalidDataException"/> naming the missing or bad field, so
/// that the guard changes nothing for a malformed document. The monitor's part is an opaque JSON value that only the
/// monitor reads.
/// </summary>
internal static class GuardStateSerializer
{
    private const string Subject = "guard";

    /// <summary>Writes <paramref name="state"/> as one UTF-8 JSON document (version 1's bytes).</summary>
    public static void Write(Stream stream, GuardState state)
    {
        var document = new GuardStateDocument
        {
            Format = GuardStateDocument.FormatName,
            Version = GuardStateDocument.CurrentVersion,
            Step = state.Step,
            Interventions = state.Interventions,
            ExhaustedRaised = state.ExhaustedRaised,
            EpisodeStart = state.EpisodeStart,
            LastTrigger = state.LastTrigger,
            LastIntervention = state.LastIntervention,
            Schedule = new ScheduleStateDocument
            {
                Start = state.Schedule.Start,
                Floor = state.Schedule.Floor,
                Hold = state.Schedule.HoldSteps,
                Ramp = state.Schedule.RampSteps,
            },
            Scaler = new ScalerStateDocument
            {
                Scale = state.Scaler.Scale,
                Unscaled = Nullable(state.Scaler.Unscaled),
                Written = Nullable(state.Scaler.Written),
            },
            Losses = Nullable(state.Losses),
            Monitor = state.Monitor,
        };
        JsonSerializer.Serialize(stream, document, GuardStateJsonContext.Default.GuardStateDocument);
    }

    /// <summary>Reads and validates a state.</summary>
    /// <exception cref="InvalidDataException">Not a guard state this version reads, or a field is missing or bad; the
    /// message names it.</exception>
    public static GuardState Read(Stream stream)
    {
        var document = StateDocuments.Deserialize(stream, GuardStateJsonContext.Default.GuardStateDocument, Subject);
        StateDocuments.CheckFormat(document.Format, document.Version, GuardStateDocument.FormatName, GuardStateDocument.CurrentVersion, Subject);
        long step = Required(document.Step, "step");
        int interventions = Required(document.Interventions, "interventions");
        bool exhausted = Required(document.ExhaustedRaised, "exhaustedRaised");
        long lastTrigger = Required(document.LastTrigger, "lastTrigger");
        long lastIntervention = Required(document.LastIntervention, "lastIntervention");
        var schedule = ReadSchedule(Required(document.Schedule, "schedule"));
        var scaler = ReadScaler(Required(document.Scaler, "scaler"));
        double[] losses = NaNs(Required(document.Losses, "losses"));
        var monitor = Required(document.Monitor, "monitor");
        Check(step >= 0, "step", "must be >= 0");
        Check(interventions >= 0, "interventions", "must be >= 0");
        Check(monitor is JsonObject, "monitor", "must be a JSON object (the monitor's state)");
        return new GuardState(step, interventions, exhausted, document.EpisodeStart, lastTrigger, lastIntervention, schedule, scaler, losses, monitor);
    }

    private static RecoverySchedule ReadSchedule(ScheduleStateDocument s)
    {
        var schedule = new RecoverySchedule(
            Required(s.Start, "schedule.start"), Required(s.Floor, "schedule.floor"), Required(s.Hold, "schedule.hold"), Required(s.Ramp, "schedule.ramp"));
        Check(schedule.Floor > 0 && double.IsFinite(schedule.Floor), "schedule.floor", "must be a positive number");
        Check(schedule.HoldSteps >= 0, "schedule.hold", "must be >= 0");
        Check(schedule.RampSteps >= 0, "schedule.ramp", "must be >= 0");
        return schedule;
    }

    private static (double Scale, double[] Unscaled, double[] Written) ReadScaler(ScalerStateDocument s)
    {
        double scale = Required(s.Scale, "scaler.scale");
        double[] unscaled = NaNs(Required(s.Unscaled, "scaler.unscaled"));
        double[] written = NaNs(Required(s.Written, "scaler.written"));
        Check(scale > 0 && double.IsFinite(scale), "scaler.scale", "must be a positive number");
        Check(written.Length == unscaled.Length, "scaler.written", "must have as many entries as 'scaler.unscaled'");
        return (scale, unscaled, written);
    }

    /// <summary>Doubles for JSON, NaN as null (JSON has no NaN).</summary>
    private static List<double?> Nullable(IEnumerable<double> values) => [.. values.Select(v => double.IsNaN(v) ? (double?)null : v)];

    private static double[] NaNs(List<double?> values) => [.. values.Select(v => v ?? double.NaN)];

    private static T Required<T>(T? value, string field)
        where T : class => StateDocuments.Required(value, Subject, field);

    private static T Required<T>(T? value, string field)
        where T : struct => StateDocuments.Required(value, Subject, field);

    private static void Check(bool valid, string field, string requirement) => StateDocuments.Check(valid, Subject, field, requirement);
}
