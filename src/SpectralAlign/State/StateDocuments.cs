using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace SpectralAlign.State;

/// <summary>
/// What reading a saved state (the monitor's, the guard's) shares: deserializing a source-generated document, and
/// the <see cref="InvalidDataException"/> that names the missing or bad field. <c>subject</c> is the state's name in
/// messages ("monitor", "guard").
/// </summary>
internal static class StateDocuments
{
    /// <summary>Deserializes a document; malformed JSON or a mistyped field becomes an
    /// <see cref="InvalidDataException"/> naming where, JSON null one saying so.</summary>
    public static T Deserialize<T>(Stream stream, JsonTypeInfo<T> typeInfo, string subject)
        where T : class
    {
        T? document;
        try
        {
            document = JsonSerializer.Deserialize(stream, typeInfo);
        }
        catch (JsonException ex)
        {
            string what = string.IsNullOrEmpty(ex.Path) || ex.Path == "$" ? $"The {subject} state is not a valid JSON object" : $"The {subject} state's '{ex.Path.TrimStart('$', '.')}' is not valid";
            throw new InvalidDataException($"{what}: {ex.Message}", ex);
        }

        return document ?? throw new InvalidDataException($"The {subject} state is empty (JSON null); expected a JSON object.");
    }

    /// <summary>Checks the document's format name and version.</summary>
    public static void CheckFormat(string? format, int? version, string expectedFormat, int expectedVersion, string subject)
    {
        if (format != expectedFormat)
            throw new InvalidDataException($"Not a SpectralAlign {subject} state: 'format' is {Quote(format)}, expected '{expectedFormat}'.");
        int found = Required(version, subject, "version");
        if (found != expectedVersion)
            throw new InvalidDataException($"{char.ToUpperInvariant(subject[0])}{subject[1..]} state version {found} cannot be read by this version of SpectralAlign (reads version {expectedVersion}).");
    }

    /// <summary>A required field's value.</summary>
    /// <exception cref="InvalidDataException">It is missing; the message names it.</exception>
    public static T Required<T>(T? value, string subject, string field)
        where T : class =>
        value ?? throw new InvalidDataException($"The {subject} state has no '{field}'.");

    /// <summary>A required field's value.</summary>
    /// <exception cref="InvalidDataException">It is missing; the message names it.</exception>
    public static T Required<T>(T? value, string subject, string field)
        where T : struct =>
        value ?? throw new InvalidDataException($"The {subject} state has no '{field}'.");

    /// <summary>Throws unless <paramref name="valid"/>: the field's value breaks <paramref name="requirement"/>.</summary>
    public static void Check(bool valid, string subject, string field, string requirement)
    {
        if (!valid)
            throw new InvalidDataException($"The {subject} state's '{field}' {requirement}.");
    }

    private static string Quote(string? value) => value is null ? "missing" : $"'{value}'";
}
