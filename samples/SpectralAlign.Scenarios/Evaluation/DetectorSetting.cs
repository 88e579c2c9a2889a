using SpectralAlign.Scenarios.Analysis;

namespace SpectralAlign.Scenarios.Evaluation;

/// <summary>
/// One candidate setting of a detector: <b>the seam</b> through which anything plugs into the evaluation by horizon —
/// a function from a recorded run to its per-step <see cref="ScoreSeries"/>.
/// </summary>
/// <param name="Name">The setting's name in the report (e.g. <c>window 128</c>).</param>
/// <param name="Score">Scores a recorded run; must return exactly one score (and alarm flag, if any) per element of
/// <see cref="RunData.Steps"/>. Called once per run.</param>
/// <param name="Persistence">k: consecutive recorded steps at or above the threshold before the alarm is active
/// (ignored when the series brings its own alarms).</param>
public sealed record DetectorSetting(string Name, Func<RunData, ScoreSeries> Score, int Persistence = 1);
