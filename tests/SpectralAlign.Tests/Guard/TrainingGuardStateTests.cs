using System.Text;
using System.Text.Json.Nodes;
using SpectralAlign.Tests.Support;

namespace SpectralAlign.Tests.Guard;

/// <summary>The guard's saved state (<see cref="TrainingGuard.SaveState(Stream)"/>): every field is checked on
/// loading, and a bad one is named and changes nothing.</summary>
[Collection(TorchCollection.Name)]
public sealed class TrainingGuardStateTests
{
    public static TheoryData<string, string> BrokenFields()
    {
        var data = new TheoryData<string, string>();
        string[] required =
        [
            "format", "version", "step", "interventions", "exhaustedRaised", "lastTrigger", "lastIntervention", "schedule",
            "schedule.start", "schedule.floor", "schedule.hold", "schedule.ramp", "scaler", "scaler.scale", "scaler.unscaled",
            "scaler.written", "losses", "monitor",
        ];
        foreach (var field in required)
            data.Add("remove", field);
        foreach (var field in required.Where(f => f != "format").Append("episodeStart"))
            data.Add("string", field);
        return data;
    }

    [Theory]
    [MemberData(nameof(BrokenFields))]
    public void LoadState_MissingOrMistypedField_ThrowsInvalidDataNamingTheFieldAndChangesNothing(string edit, string field)
    {
        using var rig = new GuardRig(new TrainingGuardOptions { SnapshotInterval = 2 });
        for (int i = 0; i < 3; i++)
            rig.Step(i);
        using var saved = new MemoryStream();
        rig.Guard.SaveState(saved);
        var root = JsonNode.Parse(saved.ToArray())!.AsObject();
        var path = field.Split('.');
        var parent = path.Length == 1 ? root : root[path[0]]!.AsObject();
        Assert.True(parent.ContainsKey(path[^1]), $"the saved state has '{field}'");
        if (edit == "remove")
            parent.Remove(path[^1]);
        else
            parent[path[^1]] = "not a number, array or object";
        for (int i = 3; i < 6; i++)
            rig.Step(i);
        long monitorStep = rig.Monitor.CurrentStep;
        var snapshots = rig.Guard.SnapshotSteps;

        var ex = Assert.Throws<InvalidDataException>(() => rig.Guard.LoadState(new MemoryStream(Encoding.UTF8.GetBytes(root.ToJsonString()))));

        Assert.Contains($"'{field}'", ex.Message, StringComparison.Ordinal);
        Assert.Equal(monitorStep, rig.Monitor.CurrentStep);     // the monitor's state was not loaded either
        Assert.Equal(snapshots, rig.Guard.SnapshotSteps);
    }

    [Fact]
    public void LoadState_NoOpenEpisode_EpisodeStartIsOptional()
    {
        using var rig = new GuardRig();
        for (int i = 0; i < 3; i++)
            rig.Step(i);
        using var saved = new MemoryStream();
        rig.Guard.SaveState(saved);
        var root = JsonNode.Parse(saved.ToArray())!.AsObject();
        Assert.Null(root["episodeStart"]);
        Assert.True(root.ContainsKey("episodeStart"));          // written as null, as version 1 always did
        root.Remove("episodeStart");

        Assert.Empty(rig.Guard.LoadState(new MemoryStream(Encoding.UTF8.GetBytes(root.ToJsonString()))));
    }
}
