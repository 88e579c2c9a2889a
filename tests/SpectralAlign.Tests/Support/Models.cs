using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace SpectralAlign.Tests.Support;

/// <summary>A small MLP classifier: fc1 → ReLU → [drift injector] → fc2 → ReLU → fc3.</summary>
internal sealed class SmallMlp : nn.Module<Tensor, Tensor>
{
    public readonly Linear fc1;
    public readonly Linear fc2;
    public readonly Linear fc3;
    public readonly DriftInjector drift;

    public SmallMlp(int input, int hidden, int classes) : base(nameof(SmallMlp))
    {
        fc1 = nn.Linear(input, hidden);
        fc2 = nn.Linear(hidden, hidden);
        fc3 = nn.Linear(hidden, classes);
        drift = new DriftInjector(fc2);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var h = nn.functional.relu(fc1.call(x));
        h = drift.call(h);
        h = nn.functional.relu(fc2.call(h));
        return fc3.call(h).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// Adds α·‖h_i‖·s·v1(target) to every row h_i, where v1 is the target layer's current top right singular vector
/// (from a full SVD, without gradient) and s = ±1 the side the batch already leans to: a planted drift of the
/// target's inputs towards its principal direction. α = 0 leaves the input untouched.
/// </summary>
internal sealed class DriftInjector : nn.Module<Tensor, Tensor>
{
    private readonly Linear _target;

    public DriftInjector(Linear target) : base(nameof(DriftInjector)) => _target = target;

    public double Alpha { get; set; }

    public override Tensor forward(Tensor h)
    {
        if (Alpha == 0)
            return h.alias();
        using var scope = NewDisposeScope();
        Tensor push;
        using (no_grad())
        {
            var (_, _, vh) = linalg.svd(_target.weight!.detach(), fullMatrices: false);
            var v1 = vh[0];
            var side = h.detach().matmul(v1).sum().sign().item<float>() >= 0 ? 1.0 : -1.0;
            push = v1.unsqueeze(0) * h.detach().norm(1, keepdim: true) * (Alpha * side);
        }

        return (h + push).MoveToOuterDisposeScope();
    }
}

/// <summary>A fixed synthetic classification task: labels from a random teacher network.</summary>
internal sealed class TeacherTask : IDisposable
{
    private readonly Generator _generator;
    private readonly Tensor _teacher1;
    private readonly Tensor _teacher2;

    public TeacherTask(int input, int classes, long seed)
    {
        _generator = new Generator((ulong)seed);
        _teacher1 = randn([input, 64], generator: _generator);
        _teacher2 = randn([64, classes], generator: _generator);
        Input = input;
    }

    public int Input { get; }

    public (Tensor X, Tensor Y) Batch(int size)
    {
        using var scope = NewDisposeScope();
        var x = randn([size, Input], generator: _generator);
        var y = nn.functional.relu(x.matmul(_teacher1)).matmul(_teacher2).argmax(1);
        return (x.MoveToOuterDisposeScope(), y.MoveToOuterDisposeScope());
    }

    public void Dispose()
    {
        _teacher1.Dispose();
        _teacher2.Dispose();
        _generator.Dispose();
    }
}
