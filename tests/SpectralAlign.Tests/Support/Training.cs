using TorchSharp;
using static TorchSharp.torch;

namespace SpectralAlign.Tests.Support;

/// <summary>A plain, deterministic training loop for tests: one Adam step per batch, a dispose scope per step.</summary>
internal static class Training
{
    public static void Run(SmallMlp model, TeacherTask task, SpectralMonitor? monitor, int steps, int batch = 64, double lr = 1e-3, Action<int>? beforeStep = null, Action<int, double>? afterStep = null)
    {
        using var optimizer = optim.Adam(model.parameters(), lr);
        model.train();
        for (int step = 0; step < steps; step++)
        {
            beforeStep?.Invoke(step);
            using var scope = NewDisposeScope();
            var (x, y) = task.Batch(batch);
            optimizer.zero_grad();
            var loss = nn.functional.cross_entropy(model.call(x), y);
            loss.backward();
            optimizer.step();
            monitor?.Step();
            afterStep?.Invoke(step, loss.item<float>());
        }
    }

    /// <summary>One plain SGD step on cross-entropy, written out with a kept Scalar (p ← p + (−lr)·∇p): TorchSharp's
    /// optimizers make temporary Scalars inside step(), which a collection on another thread can free during the
    /// native call (see Scalars) — a TorchSharp failure that would show up as the calling test's.</summary>
    public static void SgdStep(SmallMlp model, IReadOnlyList<Tensor> parameters, Tensor x, Tensor y, Scalar minusLearningRate)
    {
        foreach (var p in parameters)
            p.grad?.zero_();
        nn.functional.cross_entropy(model.call(x), y).backward();
        using (no_grad())
        {
            foreach (var p in parameters)
                p.add_(p.grad!, minusLearningRate);
        }
    }

    public static SmallMlp Mlp(long seed, int input = 32, int hidden = 64, int classes = 10)
    {
        manual_seed(seed);
        return new SmallMlp(input, hidden, classes);
    }
}
