namespace SpectralAlign.Detection;

/// <summary>How the values of a <see cref="LaggedWindow{T}"/> are saved in a rule's state: their names (for the
/// message on a malformed state) and their conversion to and from numbers.</summary>
/// <param name="Names">The value's fields, in saved order (e.g. <c>alignment</c>).</param>
/// <param name="Write">The value's fields as numbers, in the order of <paramref name="Names"/>.</param>
/// <param name="Read">The value whose fields start at the given offset of the saved numbers.</param>
internal sealed record WindowFields<T>(IReadOnlyList<string> Names, Func<T, IEnumerable<double>> Write, Func<IReadOnlyList<double>, int, T> Read);
