using SpectralAlign.Guard.Remedies;
using SpectralAlign.Tests.Support;
using TorchSharp;
using static SpectralAlign.Tests.Guard.GuardKit;
using static TorchSharp.torch;

namespace SpectralAlign.Tests.Guard.Remedies;

/// <summary>Every remedy is all or nothing: degenerate weights are refused untouched, and a failure after the weight is
/// written puts it (and the optimizer state) back.</summary>
[Collection(TorchCollection.Name)]
public sealed class WeightEditorTests
{
    public static TheoryData<string> Remedies => new() { "Rank1", "Smooth", "MatrixSign" };

    private static ISpectralRemedy Create(string name) => name switch
    {
        "Rank1" => new Rank1Correction([0.5]),
        "Smooth" => new SpectrumSmoothing(2, SmoothingTarget.NextSingularValue, 1),
        _ => new MatrixSignStep(1),
    };

    [Theory]
    [MemberData(nameof(Remedies))]
    public void Apply_ZeroWeight_IsRefusedUntouched(string remedy)
    {
        using var scope = NewDisposeScope();
        var w = zeros(1, 8, 6);

        var result = WeightEditor.Apply(w, Create(remedy), null, RemedySettings.Default);

        Assert.False(result.Applied);
        Assert.Equal("the weight is zero", result.Problem);
        Assert.Equal(0, w.abs().sum().item<float>());
    }

    [Theory]
    [MemberData(nameof(Remedies))]
    public void Apply_NonFiniteWeight_IsRefusedUntouched(string remedy)
    {
        using var scope = NewDisposeScope();
        foreach (var bad in new[] { double.NaN, double.PositiveInfinity })
        {
            var w = Stack(1, 8, 6, _ => Geometric(6, 2, 0.5), ScalarType.Float32, seed: 4);
            w[0, 3, 2] = tensor(bad, ScalarType.Float32);
            var before = RawBytes(w);

            var result = WeightEditor.Apply(w, Create(remedy), null, RemedySettings.Default);

            Assert.False(result.Applied);
            Assert.Equal("the weight has non-finite values", result.Problem);
            Assert.Equal(before, RawBytes(w));
        }
    }

    [Theory]
    [MemberData(nameof(Remedies))]
    public void Apply_IntegerWeight_IsRefused(string remedy)
    {
        using var scope = NewDisposeScope();
        var w = ones([1, 4, 4], ScalarType.Int32);

        var result = WeightEditor.Apply(w, Create(remedy), null, RemedySettings.Default);

        Assert.False(result.Applied);
        Assert.Contains("not floating point", result.Problem);
    }

    [Theory]
    [MemberData(nameof(Remedies))]
    public void Apply_FailureAfterTheWeightIsWritten_PutsWeightAndMomentsBack(string remedy)
    {
        using var scope = NewDisposeScope();
        var model = nn.Linear(6, 8, hasBias: false);
        using (no_grad())
            model.weight!.copy_(Stack(1, 8, 6, _ => Geometric(6, 3, 0.6), ScalarType.Float32, seed: 9)[0]);
        using var optimizer = optim.Adam(model.parameters(), 1e-2);
        var data = randn(16, 6, generator: new Generator(3));
        for (int i = 0; i < 3; i++)
        {
            optimizer.zero_grad();
            model.call(data).square().mean().backward();
            optimizer.step();
        }

        var weightBefore = RawBytes(model.weight!);
        var optimizerBefore = Bits(optimizer);
        var moments = new WeightEditor.Moments(optimizer, model.weight!, MomentPolicy.Reset, 0.1);

        var thrown = Assert.Throws<InvalidOperationException>(() =>
            WeightEditor.Apply(model.weight!.view(1, 8, 6), Create(remedy), null, RemedySettings.Default, moments,
                beforeMoments: () => throw new InvalidOperationException("injected")));

        Assert.Equal("injected", thrown.Message);
        Assert.Equal(weightBefore, RawBytes(model.weight!));
        Assert.Equal(optimizerBefore, Bits(optimizer));
    }
}
