using SpectralAlign.Guard;

namespace SpectralAlign.Tests.Guard;

/// <summary>The decision on a step's triggers, without a model: episode, cooldown, urgency and exhaustion.</summary>
public sealed class InterventionPolicyTests
{
    private static GuardTrigger Trigger(long step, GuardTriggerKind kind = GuardTriggerKind.Manual, long? episodeStart = null) =>
        new(kind, kind.ToString(), CollapseAlert.RunLayer, step, episodeStart ?? step, "");

    [Fact]
    public void Decide_WithinCooldown_IgnoredUnlessALossIsNotFinite()
    {
        var policy = new InterventionPolicy(new TrainingGuardOptions { CooldownSteps = 5 });
        Assert.Equal(TriggerDecision.Intervene, policy.Decide(10, [Trigger(10)]));
        policy.Intervened(10);

        Assert.Equal(TriggerDecision.CoolingDown, policy.Decide(15, [Trigger(15)]));
        Assert.Equal(TriggerDecision.Intervene, policy.Decide(15, [Trigger(15), Trigger(15, GuardTriggerKind.NonFiniteLoss)]));
        Assert.Equal(TriggerDecision.Intervene, policy.Decide(16, [Trigger(16)]));
        Assert.Equal(1, policy.Interventions);
        Assert.Equal(10, policy.LastIntervention);
    }

    [Fact]
    public void Decide_InterventionsUsedUp_ExhaustedOnceThenStillExhausted()
    {
        var policy = new InterventionPolicy(new TrainingGuardOptions { MaxInterventions = 1, CooldownSteps = 0 });
        Assert.Equal(TriggerDecision.Intervene, policy.Decide(1, [Trigger(1)]));
        policy.Intervened(1);

        Assert.Equal(TriggerDecision.Exhausted, policy.Decide(3, [Trigger(3)]));
        Assert.True(policy.ExhaustedRaised);
        Assert.Equal(TriggerDecision.StillExhausted, policy.Decide(4, [Trigger(4)]));
    }

    [Fact]
    public void Quiet_EpisodeStartsAtEarliestTriggerAndClosesAfterQuietSteps()
    {
        var policy = new InterventionPolicy(new TrainingGuardOptions { QuietSteps = 3 });
        policy.Decide(10, [Trigger(10, GuardTriggerKind.Alert, episodeStart: 7), Trigger(10)]);
        policy.Decide(11, [Trigger(11, GuardTriggerKind.Alert, episodeStart: 9)]);
        Assert.Equal(7, policy.EpisodeStart);

        policy.Quiet(13);
        Assert.Equal(7, policy.EpisodeStart);
        policy.Quiet(14);
        Assert.Null(policy.EpisodeStart);
    }
}
