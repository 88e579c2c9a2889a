using SpectralAlign.Guard.Snapshots;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace SpectralAlign.Tests.Guard;

/// <summary>The guard tests' shared harness: constructed spectra with an SVD reference, bit-exact state fingerprints,
/// and a small deterministic training setup for each optimizer the guard supports.</summary>
internal static class GuardKit
{
    /// <summary>A (G, m, n) stack W_g = U_g·diag(s_g)·V_gᵀ with random orthonormal U_g, V_g (float64 QR of Gaussian
    /// matrices from a private generator), cast to <paramref name="dtype"/>.</summary>
    public static Tensor Stack(int groups, int m, int n, Func<int, double[]> singular, ScalarType dtype, long seed)
    {
        using var generator = new Generator((ulong)seed);
        using var scope = NewDisposeScope();
        int r = Math.Min(m, n);
        var blocks = new List<Tensor>();
        for (int g = 0; g < groups; g++)
        {
            var u = linalg.qr(randn([m, r], dtype: ScalarType.Float64, generator: generator)).Q;
            var v = linalg.qr(randn([n, r], dtype: ScalarType.Float64, generator: generator)).Q;
            var s = tensor(singular(g), ScalarType.Float64);
            blocks.Add((u * s.unsqueeze(0)).matmul(v.t()));
        }

        return stack(blocks).to(dtype).MoveToOuterDisposeScope();
    }

    /// <summary>Singular values decaying geometrically from <paramref name="top"/> with ratio <paramref name="ratio"/>.</summary>
    public static double[] Geometric(int count, double top, double ratio) => Enumerable.Range(0, count).Select(i => top * Math.Pow(ratio, i)).ToArray();

    /// <summary>The float64 SVD of every group: U (G, m, r), S (G, r), Vh (G, r, n), on the host.</summary>
    public static (Tensor U, Tensor S, Tensor Vh) Svd(Tensor w)
    {
        using var scope = NewDisposeScope();
        var (u, s, vh) = linalg.svd(w.detach().to(ScalarType.Float64).cpu(), fullMatrices: false);
        return (u.MoveToOuterDisposeScope(), s.MoveToOuterDisposeScope(), vh.MoveToOuterDisposeScope());
    }

    /// <summary>U·diag(s)·Vh for a stack, in float64.</summary>
    public static Tensor Compose(Tensor u, Tensor s, Tensor vh) => (u * s.unsqueeze(1)).matmul(vh);

    /// <summary>‖a − b‖_F / ‖b‖_F in float64.</summary>
    public static double RelativeError(Tensor a, Tensor b)
    {
        using var scope = NewDisposeScope();
        var a64 = a.to(ScalarType.Float64).cpu();
        var b64 = b.to(ScalarType.Float64).cpu();
        return ((a64 - b64).norm() / b64.norm()).item<double>();
    }

    public static double[] Doubles(Tensor t)
    {
        using var scope = NewDisposeScope();
        return t.detach().to(ScalarType.Float64).cpu().contiguous().data<double>().ToArray();
    }

    /// <summary>The raw bytes of every <c>state_dict()</c> entry of <paramref name="model"/>, by key.</summary>
    public static Dictionary<string, byte[]> Bits(nn.Module model) =>
        model.state_dict().ToDictionary(kv => kv.Key, kv => RawBytes(kv.Value));

    /// <summary>The raw bytes of a tensor.</summary>
    public static byte[] RawBytes(Tensor t)
    {
        using var scope = NewDisposeScope();
        return t.detach().cpu().contiguous().bytes.ToArray();
    }

    /// <summary>The optimizer's whole serialised state (moments, step counts, hyperparameters), as bytes.</summary>
    public static byte[] Bits(OptimizerHelper optimizer) => OptimizerStateIO.Save(optimizer);

    public static void AssertSameBits(Dictionary<string, byte[]> expected, Dictionary<string, byte[]> actual)
    {
        Assert.Equal(expected.Keys.Order(), actual.Keys.Order());
        foreach (var (key, bytes) in expected)
            Assert.True(bytes.AsSpan().SequenceEqual(actual[key]), $"'{key}' differs");
    }

    /// <summary>The optimizers the guard supports, by name, for theories.</summary>
    public static TheoryData<string> Optimizers => new() { "SGD", "Adam", "AdamW" };

    public static OptimizerHelper Optimizer(string name, IEnumerable<Parameter> parameters, double lr) => name switch
    {
        "SGD" => optim.SGD(parameters, lr, momentum: 0.9),
        "Adam" => optim.Adam(parameters, lr),
        "AdamW" => optim.AdamW(parameters, lr, weight_decay: 0.01),
        _ => throw new ArgumentException(name, nameof(name)),
    };

    /// <summary>A small MLP with a BatchNorm (so there are buffers), seeded.</summary>
    public static Sequential Mlp(long seed, int input = 16, int hidden = 32, int classes = 4)
    {
        manual_seed(seed);
        return nn.Sequential(
            ("fc1", nn.Linear(input, hidden)), ("norm", nn.BatchNorm1d(hidden)), ("relu1", nn.ReLU()),
            ("fc2", nn.Linear(hidden, hidden)), ("relu2", nn.ReLU()),
            ("head", nn.Linear(hidden, classes)));
    }

    /// <summary>A fixed labelled dataset from a private generator.</summary>
    public static (Tensor X, Tensor Y) Data(long seed, int rows = 256, int input = 16, int classes = 4)
    {
        using var generator = new Generator((ulong)seed);
        using var scope = NewDisposeScope();
        var x = randn([rows, input], generator: generator);
        var teacher = randn([input, classes], generator: generator);
        var y = x.matmul(teacher).argmax(1);
        return (x.MoveToOuterDisposeScope(), y.MoveToOuterDisposeScope());
    }

    /// <summary>One training step on batch <paramref name="step"/> (cyclic, batches of 32 rows); returns the loss.</summary>
    public static float TrainStep(nn.Module<Tensor, Tensor> model, optim.Optimizer optimizer, (Tensor X, Tensor Y) data, int step, int batch = 32)
    {
        using var scope = NewDisposeScope();
        long rows = data.X.shape[0];
        long start = step * batch % rows;
        var x = data.X.narrow(0, start, batch);
        var y = data.Y.narrow(0, start, batch);
        optimizer.zero_grad();
        var loss = nn.functional.cross_entropy(model.call(x), y);
        loss.backward();
        optimizer.step();
        return loss.item<float>();
    }
}
