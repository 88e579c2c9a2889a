using System.Text;
using System.Text.Json.Nodes;
using SpectralAlign.Detection;

namespace SpectralAlign.Tests.Detection;

/// <summary>Saving and loading a calibration.</summary>
public sealed class DetectionCalibrationTests
{
    private static DetectionCalibration Sample() => new(
        new Dictionary<string, IReadOnlyDictionary<string, double>> { ["X"] = new Dictionary<string, double> { ["a"] = 1.5, ["b"] = double.PositiveInfinity } },
        0.1,
        0.25,
        4,
        "test");

    private static JsonObject Saved()
    {
        using var stream = new MemoryStream();
        Sample().Save(stream);
        return JsonNode.Parse(stream.ToArray())!.AsObject();
    }

    private static DetectionCalibration Load(JsonNode document) => DetectionCalibration.Load(new MemoryStream(Encoding.UTF8.GetBytes(document.ToJsonString())));

    [Fact]
    public void SaveLoad_RoundTrips()
    {
        var loaded = Load(Saved());
        Assert.Equal(1.5, loaded.ThresholdFor("X", "a"));
        Assert.Equal(double.PositiveInfinity, loaded.ThresholdFor("X", "b"));
        Assert.Null(loaded.ThresholdFor("X", "c"));
        Assert.Equal((0.1, 0.25, 4, "test"), (loaded.FalseAlarmBudget, loaded.Margin, loaded.ReferenceRuns, loaded.Description));
    }

    [Theory]
    [InlineData("X")]
    [InlineData("not covered")]
    public void ThresholdsFor_CallerCastsToAMutableDictionary_CannotChangeTheCalibration(string reason)
    {
        var calibration = Sample();
        var thresholds = calibration.ThresholdsFor(reason);

        Assert.False(thresholds is IDictionary<string, double> { IsReadOnly: false });
        Assert.Throws<NotSupportedException>(() => ((IDictionary<string, double>)thresholds)["a"] = 99);
        Assert.Equal(1.5, calibration.ThresholdFor("X", "a"));
        Assert.Equal(reason == "X" ? 2 : 0, calibration.ThresholdsFor(reason).Count);
    }

    [Theory]
    [InlineData("thresholds")]
    [InlineData("falseAlarmBudget")]
    [InlineData("margin")]
    [InlineData("referenceRuns")]
    [InlineData("version")]
    public void Load_MissingField_ThrowsInvalidDataNamingIt(string field)
    {
        var document = Saved();
        document.Remove(field);
        var ex = Assert.Throws<InvalidDataException>(() => Load(document));
        Assert.Contains(field, ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("margin", "\"wide\"")]
    [InlineData("referenceRuns", "2.5")]
    [InlineData("thresholds", "[1, 2]")]
    [InlineData("format", "7")]
    [InlineData("description", "{}")]
    public void Load_BadValue_ThrowsInvalidDataNamingIt(string field, string json)
    {
        var document = Saved();
        document[field] = JsonNode.Parse(json);
        var ex = Assert.Throws<InvalidDataException>(() => Load(document));
        Assert.Contains(field, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_BadLayerThreshold_ThrowsInvalidDataNamingTheRuleAndLayer()
    {
        var document = Saved();
        document["thresholds"]!["X"]!["a"] = "high";
        var ex = Assert.Throws<InvalidDataException>(() => Load(document));
        Assert.Contains("thresholds.X.a", ex.Message, StringComparison.Ordinal);
        document["thresholds"]!["X"] = 3;
        Assert.Contains("thresholds.X", Assert.Throws<InvalidDataException>(() => Load(document)).Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("null", "thresholds.X")]
    [InlineData("{\"a\": 1.5, \"b\": null}", null)]
    public void Load_NullRuleThresholds_ThrowsInvalidDataNamingTheRule(string json, string? named)
    {
        var document = Saved();
        document["thresholds"]!["X"] = JsonNode.Parse(json);
        if (named is null)
        {
            // A null layer threshold is +∞ (how Save writes it), not an error.
            Assert.Equal(double.PositiveInfinity, Load(document).ThresholdFor("X", "b"));
            return;
        }

        var ex = Assert.Throws<InvalidDataException>(() => Load(document));
        Assert.Contains(named, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_OtherDocuments_ThrowInvalidData()
    {
        Assert.Throws<InvalidDataException>(() => DetectionCalibration.Load(new MemoryStream(Encoding.UTF8.GetBytes("{\"format\":\"x\"}"))));
        Assert.Throws<InvalidDataException>(() => DetectionCalibration.Load(new MemoryStream(Encoding.UTF8.GetBytes("[1]"))));
        Assert.Throws<InvalidDataException>(() => DetectionCalibration.Load(new MemoryStream(Encoding.UTF8.GetBytes("not json"))));
    }
}
