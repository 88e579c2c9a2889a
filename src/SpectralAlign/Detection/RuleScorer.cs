using System.Globalization;

namespace SpectralAlign.Detection;

/// <summary>
/// The state of a rule for one subject (a layer, a group of layers, or the run): turns each observation into an
/// anomaly score, higher meaning more anomalous. <see cref="CollapseDetector"/> compares the score with the
/// threshold, counts episodes, saves and restores the scorer's state with a checkpoint, and isolates exceptions: a
/// scorer that throws is dropped for its subject and reported, never passed on to the training loop.
/// Called from one thread, in step order.
/// </summary>
/// <typeparam name="TInput">What is judged: a <see cref="LayerMeasurement"/> (<see cref="LayerRule"/>), a group's
/// measurements (<see cref="CrossLayerRule"/>) or the step's <see cref="TrainingSignals"/> (<see cref="RunRule"/>).</typeparam>
public abstract class RuleScorer<TInput>
{
    /// <summary>Scores the subject's next observation.</summary>
    /// <param name="step">The training step.</param>
    /// <param name="input">The observation.</param>
    /// <returns>The score, or <c>null</c> (or NaN) while the scorer is still learning (a baseline, a history window)
    /// or lacks what it needs; such an observation counts neither towards an alert nor towards recovery.</returns>
    public abstract double? Score(long step, TInput input);

    /// <summary>Explains a score that raised an alert, with the numbers involved. Called right after
    /// <see cref="Score"/> returned <paramref name="score"/> for <paramref name="input"/>.</summary>
    /// <param name="step">The training step.</param>
    /// <param name="input">The observation.</param>
    /// <param name="score">Its score.</param>
    /// <param name="threshold">The threshold it reached (the rule's or a calibrated one).</param>
    /// <returns>A sentence for <see cref="CollapseAlert.Detail"/>. Default: the score and the threshold.</returns>
    public virtual string Describe(long step, TInput input, double score, double threshold) =>
        string.Create(CultureInfo.InvariantCulture, $"score {score:G4} (threshold {threshold:G4})");

    /// <summary>The scorer's state as plain numbers, saved with a checkpoint so that a resumed run keeps its
    /// baselines and windows. Default: empty (a stateless scorer, or one that starts afresh after a restore).</summary>
    /// <returns>The numbers (any finite or non-finite doubles).</returns>
    public virtual IReadOnlyList<double> SaveState() => [];

    /// <summary>Restores the numbers <see cref="SaveState"/> returned, for a scorer of the same rule and settings.
    /// Throw (e.g. <see cref="InvalidDataException"/>) when they do not fit; the detector then starts this scorer
    /// afresh and reports it.</summary>
    /// <param name="state">The saved numbers.</param>
    public virtual void LoadState(IReadOnlyList<double> state)
    {
    }
}
