using SpectralAlign.Guard.LearningRate;

namespace SpectralAlign.Tests.Guard.LearningRate;

public sealed class RecoveryScheduleTests
{
    [Fact]
    public void ScaleAt_HoldThenGeometricRampThenOne()
    {
        var schedule = RecoverySchedule.None.BackOff(step: 100, factor: 0.25, minimum: 0.01, hold: 10, ramp: 4);

        Assert.Equal(1, schedule.ScaleAt(99));
        Assert.Equal(0.25, schedule.ScaleAt(100));
        Assert.Equal(0.25, schedule.ScaleAt(109));
        Assert.Equal(0.25, schedule.ScaleAt(110));                      // ramp step 0
        Assert.Equal(Math.Pow(0.25, 0.75), schedule.ScaleAt(111), 1e-15);
        Assert.Equal(Math.Pow(0.25, 0.25), schedule.ScaleAt(113), 1e-15);
        Assert.Equal(1, schedule.ScaleAt(114));
        Assert.False(schedule.IsOverAt(113));
        Assert.True(schedule.IsOverAt(114));
    }

    [Fact]
    public void BackOff_DuringRecovery_CompoundsFromTheFactorInForce_NotBelowTheMinimum()
    {
        var first = RecoverySchedule.None.BackOff(0, 0.5, 0.1, hold: 0, ramp: 2);
        double inForce = first.ScaleAt(1);          // √0.5
        var second = first.BackOff(1, 0.5, 0.1, hold: 5, ramp: 5);
        var third = second.BackOff(2, 0.1, 0.1, hold: 5, ramp: 5);

        Assert.Equal(inForce * 0.5, second.ScaleAt(1), 1e-15);
        Assert.Equal(0.1, third.ScaleAt(2));
    }

    [Fact]
    public void None_IsOneEverywhere()
    {
        Assert.Equal(1, RecoverySchedule.None.ScaleAt(0));
        Assert.Equal(1, RecoverySchedule.None.ScaleAt(long.MaxValue));
        Assert.True(RecoverySchedule.None.IsOverAt(0));
    }
}
