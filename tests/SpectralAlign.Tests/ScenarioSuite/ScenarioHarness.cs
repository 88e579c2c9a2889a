using SpectralAlign.Scenarios;
using SpectralAlign.Scenarios.Training;
using TorchSharp;

namespace SpectralAlign.Tests.ScenarioSuite;

/// <summary>Tiny versions of the scenario models (a few ms per step) and helpers to read their state as bits.</summary>
internal static class ScenarioHarness
{
    /// <summary>Overrides that shrink a GPT scenario to a toy size; the training logic is unchanged.</summary>
    public static List<KeyValuePair<string, string>> Tiny(params (string Key, string Value)[] extra)
    {
        var list = new List<KeyValuePair<string, string>>
        {
            new("dim", "16"), new("heads", "2"), new("ffn", "32"), new("context", "16"), new("batch", "4"),
        };
        list.AddRange(extra.Select(e => new KeyValuePair<string, string>(e.Key, e.Value)));
        return list;
    }

    /// <summary>A prepared loop of a catalogued scenario (the caller disposes <c>loop.Setup</c>).</summary>
    public static TrainingLoop Prepare(string scenario, string config, int seed, List<KeyValuePair<string, string>> overrides) =>
        Trainer.Prepare(ScenarioCatalog.Get(scenario), config, seed, overrides).Loop;

    /// <summary>Runs steps until <paramref name="until"/> (exclusive) and returns their losses as float bits.</summary>
    public static List<float> RunUntil(TrainingLoop loop, long until)
    {
        var losses = new List<float>();
        while (loop.NextStep < until)
            losses.Add((float)loop.Step().Loss);
        return losses;
    }

    /// <summary>A whole run from step 0 to <paramref name="steps"/>: its losses and final weights.</summary>
    public static (List<float> Losses, float[] Weights) Straight(string scenario, string config, int seed, List<KeyValuePair<string, string>> overrides, long steps)
    {
        var loop = Prepare(scenario, config, seed, overrides);
        using var setup = loop.Setup;
        return (RunUntil(loop, steps), Weights(setup));
    }

    /// <summary>Every parameter and buffer of the model, flattened, in state-dict order.</summary>
    public static float[] Weights(TrainingSetup setup)
    {
        using var scope = torch.NewDisposeScope();
        return setup.Model.state_dict().Values
            .Where(t => t.dtype == torch.ScalarType.Float32)
            .SelectMany(t => t.detach().cpu().contiguous().data<float>().ToArray())
            .ToArray();
    }
}
