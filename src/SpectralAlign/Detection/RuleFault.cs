namespace SpectralAlign.Detection;

/// <summary>A rule that threw: its scorer for <paramref name="Subject"/> was dropped at <paramref name="Step"/>
/// (until <see cref="CollapseDetector.Reset"/> of the layer, or a new detector). Read by the monitor through
/// <see cref="CollapseDetector.TakeFaults"/> to log it once.</summary>
/// <param name="Reason">The rule's reason.</param>
/// <param name="Subject">The layer, group or <see cref="CollapseAlert.RunLayer"/>; <see cref="AllSubjects"/> when a
/// cross-layer rule failed to form its groups.</param>
/// <param name="Step">The step at which it threw.</param>
/// <param name="Exception">What it threw.</param>
internal sealed record RuleFault(string Reason, string Subject, long Step, Exception Exception)
{
    /// <summary>The subject of a fault that disables a rule for every subject.</summary>
    public const string AllSubjects = "(all)";
}
