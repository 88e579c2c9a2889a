namespace SpectralAlign.Scenarios.Evaluation;

/// <summary>
/// What a detector says about one recorded run: a score per recorded step (higher = an explosion is nearer), and
/// optionally whether its own alarm is active at each step.
/// </summary>
/// <remarks>
/// The score at step t is what the detector knows after step t (a measurement-based score keeps its last value
/// between measurements); NaN means "no opinion" (warm-up) and ranks lowest (<see cref="RankMetrics"/>). Without
/// <see cref="Alarms"/> the evaluation thresholds the score itself (threshold tuned leave-one-family-out, persistence
/// from the <see cref="DetectorSetting"/>); with it, the alarm metrics use the detector's own alarm and only the
/// choice among settings is tuned.
/// </remarks>
/// <param name="Scores">One score per element of the run's steps.</param>
/// <param name="Alarms">One flag per step (the detector's alarm is active), or null.</param>
public sealed record ScoreSeries(double[] Scores, bool[]? Alarms = null);
