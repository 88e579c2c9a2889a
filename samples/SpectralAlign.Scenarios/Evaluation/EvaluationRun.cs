using System.Globalization;
using SpectralAlign.Scenarios.Analysis;
using SpectralAlign.Scenarios.Recording;

namespace SpectralAlign.Scenarios.Evaluation;

/// <summary>
/// What the evaluation by horizon needs to know about a recorded run: its family, seed, explosion step, fork step and
/// recorded steps. Built from a <see cref="RunData"/> by <see cref="From"/>.
/// </summary>
public sealed class EvaluationRun
{
    /// <summary>The family: the run's scenario name (leave-one-family-out leaves out one scenario at a time).</summary>
    public required string Family { get; init; }

    /// <summary><c>{scenario}.{config}.s{seed}</c>.</summary>
    public required string Name { get; init; }

    /// <summary>The seed; runs of one family with the same seed are resampled together by the bootstrap.</summary>
    public int Seed { get; init; }

    /// <summary>E, the ground-truth explosion step, or null.</summary>
    public long? ExplosionStep { get; init; }

    /// <summary>F, the fork step (<see cref="RunHeader.ForkStep"/>), or null.</summary>
    public long? ForkStep { get; init; }

    /// <summary>The recorded steps, in increasing order; detector series are aligned with them.</summary>
    public required IReadOnlyList<long> Steps { get; init; }

    /// <summary>Whether the run explodes.</summary>
    public bool Explodes => ExplosionStep is not null;

    /// <summary>A run that neither exploded nor ran its planned steps (no end line, or fewer steps than planned): it
    /// is neither stable nor exploding, and the evaluation leaves it out.</summary>
    public bool Unfinished { get; init; }

    /// <summary>The number of leading steps that are healthy (<see cref="HorizonLabels.IsHealthy"/>: all steps, the
    /// steps before the fork, or none).</summary>
    public int HealthySteps
    {
        get
        {
            int n = 0;
            while (n < Steps.Count && HorizonLabels.IsHealthy(Steps[n], ExplosionStep, ForkStep))
                n++;
            return n;
        }
    }

    /// <summary>Labels every recorded step for one horizon.</summary>
    /// <param name="horizon">H.</param>
    /// <returns>One label per element of <see cref="Steps"/>.</returns>
    public StepLabel[] Labels(int horizon)
    {
        var labels = new StepLabel[Steps.Count];
        for (int i = 0; i < labels.Length; i++)
            labels[i] = HorizonLabels.Label(Steps[i], ExplosionStep, ForkStep, horizon);
        return labels;
    }

    /// <summary>Reads the facts of a recorded run.</summary>
    /// <param name="run">The run.</param>
    /// <returns>The facts.</returns>
    /// <exception cref="InvalidDataException">A negative fork step, an explosion before the fork (the base phase was
    /// not healthy), or steps not in increasing order.</exception>
    public static EvaluationRun From(RunData run)
    {
        ArgumentNullException.ThrowIfNull(run);
        var h = run.Header;
        string name = $"{h.Scenario}.{h.Config}.s{h.Seed.ToString(CultureInfo.InvariantCulture)}";
        long? fork = h.ForkStep;
        if (fork < 0)
            throw new InvalidDataException($"Run {name}: fork step {fork} is negative.");

        // E from the recorded losses with their own step numbers (the same as RunData.ExplosionStep for a record
        // that starts at step 0, which every record of the suite does).
        var tracker = new ExplosionTracker();
        var steps = new long[run.Steps.Count];
        for (int i = 0; i < steps.Length; i++)
        {
            steps[i] = run.Steps[i].Step;
            if (i > 0 && steps[i] <= steps[i - 1])
                throw new InvalidDataException($"Run {name}: step {steps[i]} follows step {steps[i - 1]}; steps must increase.");
            tracker.Observe(steps[i], run.Steps[i].Loss);
        }

        if (tracker.ExplosionStep < fork)
            throw new InvalidDataException($"Run {name}: the loss explodes at step {tracker.ExplosionStep}, before the fork at step {fork}: the base phase is not healthy.");
        return new EvaluationRun
        {
            Family = h.Scenario,
            Name = name,
            Seed = h.Seed,
            ExplosionStep = tracker.ExplosionStep,
            ForkStep = fork,
            Steps = steps,
            Unfinished = tracker.ExplosionStep is null && (run.Summary is not { } end || end.StepsRun < end.StepsPlanned),
        };
    }
}
