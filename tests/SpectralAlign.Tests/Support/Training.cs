using TorchSharp;
using static TorchSharp.torch;

namespace SpectralAlign.Tests.Support;

/// <summary>A plain, deterministic training loop for tests: one optimizer step per batch, a dispose scope per step.</summary>
internal static class Training
{
    /// <summary>Trains <paramref name="model"/> for <paramref name="steps"/> steps on batches of <paramref name="task"/>,
    /// calling <paramref name="monitor"/>'s Step() after each optimizer step. With <paramref name="sgd"/> it uses the
    /// written-out <see cref="SgdStep"/> instead of TorchSharp's Adam: for tests in which another thread allocates during
    /// training (the monitor's background worker), where Adam's temporary Scalars could be freed mid-call.</summary>
    public static void Run(SmallMlp model, TeacherTask task, SpectralMonitor? monitor, int steps, int batch = 64, double lr = 1e-3, Action<int>? beforeStep = null, Action<int, double>? afterStep = null, bool sgd = false)
    {
        using var optimizer = sgd ? null : optim.Adam(model.parameters(), lr);
        var parameters = model.parameters().ToList();
        using var minusLearningRate = (-lr).ToScalar();
        model.train();
        for (int step = 0; step < steps; step++)
        {
            beforeStep?.Invoke(step);
            using var scope = NewDisposeScope();
            var (x, y) = task.Batch(batch);
            Tensor loss;
            if (optimizer is null)
            {
                loss = SgdStep(model, parameters, x, y, minusLearningRate);
            }
            else
            {
                optimizer.zero_grad();
                loss = nn.functional.cross_entropy(model.call(x), y);
                loss.backward();
                optimizer.step();
            }

            monitor?.Step();
            afterStep?.Invoke(step, loss.item<float>());
        }
    }

    /// <summary>One plain SGD step on cross-entropy, written out with a kept Scalar (p ← p + (−lr)·∇p): TorchSharp's
    /// optimizers make temporary Scalars inside step(), which a collection on another thread can free during the
    /// native call (see Scalars) — a TorchSharp failure that would show up as the calling test's.</summary>
    /// <returns>The step's loss (before the update).</returns>
    public static Tensor SgdStep(SmallMlp model, IReadOnlyList<Tensor> parameters, Tensor x, Tensor y, Scalar minusLearningRate)
    {
        foreach (var p in parameters)
            p.grad?.zero_();
        var loss = nn.functional.cross_entropy(model.call(x), y);
        loss.backward();
        using (no_grad())
        {
            foreach (var p in parameters)
                p.add_(p.grad!, minusLearningRate);
        }

        return loss;
    }

    public static SmallMlp Mlp(long seed, int input = 32, int hidden = 64, int classes = 10)
    {
        manual_seed(seed);
        return new SmallMlp(input, hidden, classes);
    }
}
