using TorchSharp;
using static TorchSharp.torch;

namespace SpectralAlign.Scenarios.Data;

/// <summary>
/// A synthetic classification task with unlimited data: x ~ N(0, I), label = argmax of a fixed random two-layer
/// tanh teacher, replaced by a uniformly random class with probability <see cref="LabelNoise"/>. The label noise gives
/// the cross-entropy a floor (≈ 0.5 nats for 10 classes and 10% noise) far above mini-batch noise, which keeps the
/// ground-truth rule (<see cref="GroundTruth"/>) meaningful. Everything is drawn from private seeded generators.
/// </summary>
public sealed class TeacherTask : IDisposable
{
    private readonly Generator _data;
    private readonly Tensor _w1;
    private readonly Tensor _w2;

    /// <summary>Creates the task.</summary>
    /// <param name="input">Input features.</param>
    /// <param name="classes">Classes.</param>
    /// <param name="labelNoise">Probability that a label is replaced by a random class.</param>
    /// <param name="teacherSeed">Seed of the teacher (the task itself).</param>
    /// <param name="dataSeed">Seed of the sample stream.</param>
    public TeacherTask(int input, int classes, double labelNoise, long teacherSeed, long dataSeed)
    {
        using var teacherGen = new Generator((ulong)teacherSeed);
        using var root = Math.Sqrt(input).ToScalar();
        _w1 = randn([input, 4 * input], generator: teacherGen).div(root);
        _w2 = randn([4 * input, classes], generator: teacherGen).div(root);
        _data = new Generator((ulong)dataSeed);
        Input = input;
        Classes = classes;
        LabelNoise = labelNoise;
    }

    /// <summary>Input features.</summary>
    public int Input { get; }

    /// <summary>Classes.</summary>
    public int Classes { get; }

    /// <summary>Probability that a label is random.</summary>
    public double LabelNoise { get; }

    /// <summary>A fresh batch.</summary>
    /// <param name="size">Samples.</param>
    /// <returns>Inputs (size, Input) float32 and labels (size) int64.</returns>
    public (Tensor X, Tensor Y) Batch(int size)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var x = randn([size, Input], generator: _data);
        var y = tanh(x.matmul(_w1)).matmul(_w2).argmax(1);
        using var noise = LabelNoise.ToScalar();
        var flip = rand([size], generator: _data).lt(noise);
        var random = randint(Classes, [size], generator: _data);
        y = where(flip, random, y);
        return (x.MoveToOuterDisposeScope(), y.MoveToOuterDisposeScope());
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _data.Dispose();
        _w1.Dispose();
        _w2.Dispose();
    }
}
