namespace SpectralAlign;

/// <summary>Turns a list of option problems into the one <see cref="ArgumentException"/> that lists them all: the
/// format of every options type's validation message (monitor, detection, guard, sinks).</summary>
internal static class OptionProblems
{
    public static void ThrowIfAny(IReadOnlyList<string> problems, string typeName, string paramName)
    {
        if (problems.Count == 0)
            return;
        throw new ArgumentException(
            $"Invalid {typeName} ({problems.Count} problem{(problems.Count == 1 ? "" : "s")}):" + Environment.NewLine
            + string.Join(Environment.NewLine, problems.Select(p => "  - " + p)),
            paramName);
    }
}
