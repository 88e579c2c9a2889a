using System.Diagnostics;
using System.Text;
using SpectralAlign.Spectral;
using TorchSharp;
using static SpectralAlign.Benchmarks.Harness;
using static TorchSharp.torch;

namespace SpectralAlign.Benchmarks;

/// <summary>
/// How the monitor's cost per measured step (hook capture + <c>Step()</c>, Interval = 1, default options) grows with
/// the width of a square Linear layer, with the rows per batch (B·T) and with the number of same-shape layers, next to
/// the forward + backward time of the same layers. The weights have a trained-like spectrum (σ2/σ1 = 0.8, as in the
/// power-iteration benchmark) rather than a fresh initialisation's nearly tied top singular values, which make the
/// warm start iterate up to <see cref="SpectralMonitorOptions.MaxWarmIterations"/> (see the accuracy section); each
/// step applies a small random update to them (outside the timed region) so the warm start has real work to do.
/// </summary>
internal static class ScalingBenchmark
{
    public static string Run(bool quick)
    {
        var text = new StringBuilder();
        text.AppendLine("| series | layers × (out × in) | rows per batch (B·T) | forward + backward (ms) | monitor per measured step (ms) | monitor / (fwd + bwd) | monitor per layer (ms) | iterations | capture / assembly / iteration / statistics (ms) |");
        text.AppendLine("|---|---|---:|---:|---:|---:|---:|---:|---|");
        int[] widths = quick ? [256, 512, 1024] : [256, 512, 1024, 2048, 4096];
        foreach (int n in widths)
            text.AppendLine(Case("width", 1, n, 2048, quick));
        int[] rows = quick ? [512, 2048, 8192] : [512, 2048, 4096, 8192, 16384];
        foreach (int r in rows)
            text.AppendLine(Case("rows", 1, 1024, r, quick));
        int[] counts = quick ? [1, 4, 16] : [1, 4, 16, 64];
        foreach (int l in counts)
            text.AppendLine(Case("layers", l, 256, 2048, quick));
        return text.ToString();
    }

    private static string Case(string series, int layerCount, int n, int rows, bool quick)
    {
        using var outer = NewDisposeScope();
        manual_seed(7);
        var layers = Enumerable.Range(0, layerCount).Select(_ => nn.Linear(n, n, hasBias: false)).ToArray();
        using (no_grad())
        {
            using var init = new Generator(13, CPU);
            foreach (var layer in layers)
            {
                // U·diag(s)·Vᵀ with s = 1, 0.8, 0.8/(1 + j/8)…, scaled so activations keep their size through the stack.
                var u = linalg.qr(randn([n, n], generator: init)).Q;
                var v = linalg.qr(randn([n, n], generator: init)).Q;
                var spectrum = tensor(Enumerable.Range(0, n).Select(i => i == 0 ? 1f : 0.8f / (1 + ((i - 1) / 8f))).ToArray());
                var w = (u * spectrum.unsqueeze(0)).mm(v.t());
                layer.weight!.copy_(w * (Math.Sqrt(n) / linalg.vector_norm(w).item<float>()));
            }
        }

        var model = nn.Sequential(layers.Select((l, i) => ($"l{i}", (nn.Module<Tensor, Tensor>)l)).ToArray());
        using var generator = new Generator(11, CPU);
        var x = randn([rows, n], generator: generator);
        var parameters = model.parameters().ToArray();

        void ForwardBackward()
        {
            using var scope = NewDisposeScope();
            foreach (var p in parameters)
                p.grad?.zero_();
            var y = x;
            foreach (var layer in layers)
                y = layer.call(y);
            y.square().mean().backward();
        }

        void Update()
        {
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            foreach (var p in parameters)
                p.add_(randn(p.shape, generator: generator) * 1e-4);
        }

        int runs = quick ? 8 : 20;
        var plain = new List<double>();
        for (int i = 0; i < runs + 2; i++)
        {
            Update();
            long start = Stopwatch.GetTimestamp();
            ForwardBackward();
            if (i >= 2)
                plain.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
        }

        using var monitor = new SpectralMonitor(new SpectralMonitorOptions { Interval = 1 });
        monitor.WatchAll(model);
        var profile = new CostProfile();
        monitor.Profile = profile;
        var cost = new List<double>();
        var iterations = new List<double>();
        monitor.Measured += (_, m) => iterations.Add(m.Iterations);
        for (int i = 0; i < runs + 3; i++)
        {
            Update();
            var captureBefore = profile.Total(CostProfile.Phase.Capture);
            ForwardBackward();
            var capture = profile.Total(CostProfile.Phase.Capture) - captureBefore;
            long start = Stopwatch.GetTimestamp();
            monitor.Step();
            if (i >= 3)   // after the cold start
                cost.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds + capture.TotalMilliseconds);
            else
            {
                iterations.Clear();
                profile = new CostProfile();
                monitor.Profile = profile;
            }
        }

        string Phase(CostProfile.Phase phase) => F(profile.Total(phase).TotalMilliseconds / Math.Max(1, profile.MeasuredSteps), "0.00");

        double fb = Median(plain), mon = Median(cost);
        return FormattableString.Invariant(
            $"| {series} | {layerCount} × ({n} × {n}) | {rows} | {F(fb, "0.00")} | {F(mon, "0.000")} | {F(100 * mon / fb, "0.0")}% | {F(mon / layerCount, "0.000")} | {F(Median(iterations))} | {Phase(CostProfile.Phase.Capture)} / {Phase(CostProfile.Phase.Assembly)} / {Phase(CostProfile.Phase.Iteration)} / {Phase(CostProfile.Phase.Statistics)} |");
    }
}
