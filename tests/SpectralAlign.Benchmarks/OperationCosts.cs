using System.Text;
using SpectralAlign.Hooks;
using SpectralAlign.Spectral;
using static SpectralAlign.Benchmarks.Harness;
using static TorchSharp.torch;

namespace SpectralAlign.Benchmarks;

/// <summary>
/// The floor under the monitor's cost on this machine: the time of single tensor operations at the sizes a measured
/// step of the demo model uses (its larger bucket: 25 layers reading 64-wide inputs, 256 sampled rows each), and of
/// the monitor's device-side building blocks for that bucket. Explains where the per-step milliseconds come from.
/// </summary>
internal static class OperationCosts
{
    public static string Run()
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        const int layers = 25, rows = 256, n = 64, m = 176;
        var h = randn(layers, rows, n);
        var sa = rand(layers, rows) * 2 - 1;
        var v = randn(layers, n);
        v = v / linalg.vector_norm(v, 2, [1], true);
        var w = randn(layers, m, n);
        var q = linalg.qr(randn(layers, n, 4)).Q.contiguous();
        var runs = new WeightRuns(w);
        var oneStep = Enumerable.Repeat(1, layers).ToArray();
        var perLayer = Enumerable.Range(0, layers).Select(l => (Tensor?)h[l].unsqueeze(0)).ToList();
        var rowStack = new RowStack(perLayer, 1, n, h.device);
        // Host result rows of the bucket: |h|max = ‖hᵢ‖ = 1, hᵢ·v1 and hᵢ·S uniform in [−1, 1].
        var layout = new ResultLayout(rows);
        var hostRows = new double[layers * layout.Width];
        var hostDots = (rand(2 * layers * rows, dtype: ScalarType.Float64) * 2 - 1).data<double>().ToArray();
        for (int l = 0; l < layers; l++)
        {
            int offset = l * layout.Width;
            Array.Fill(hostRows, 1.0, offset + layout.Offset(ResultField.RowMaxAbs), rows);
            Array.Fill(hostRows, 1.0, offset + layout.Offset(ResultField.RowNorm), rows);
            Array.Copy(hostDots, 2 * l * rows, hostRows, offset + layout.Offset(ResultField.RowDotVector), rows);
            Array.Copy(hostDots, ((2 * l) + 1) * rows, hostRows, offset + layout.Offset(ResultField.RowDotSum), rows);
        }

        var summary = new AlignmentSummary(20);
        var tiny = randn(4);

        // The hook side of the demo model's Linear layers: 16 × 64 tokens of width 64, 256 rows kept.
        var tokens = randn(16, 64, n);
        var tokenRows = tokens.reshape(1, -1, n);
        var unwatched = nn.Linear(n, n);
        var idle = nn.Linear(n, n);
        var measured = nn.Linear(n, n);
        var idleMonitor = new SpectralMonitor(new SpectralMonitorOptions { Interval = 1_000_000 });
        idleMonitor.Watch(idle, "idle");
        idleMonitor.Step();   // step 0 was a measured step; every later one is not
        var stepMonitor = new SpectralMonitor(new SpectralMonitorOptions { Interval = 1_000_000 });
        var demoLayers = Enumerable.Range(0, 29).Select(_ => nn.Linear(n, n)).ToList();
        for (int l = 0; l < demoLayers.Count; l++)
            stepMonitor.Watch(demoLayers[l], $"l{l}");
        stepMonitor.Step();
        var capture = new InputCapture("blocks.0.attn.q", 256, 1);
        var stepIndex = new HostRowIndex();   // the monitor's index tensor, shared by a step's hooks
        var receiver = new CaptureReceiver(capture, stepIndex);
        LayerAdapters.TryCreate(measured, "measured", out var adapter, out _);
        using var hooks = adapter!.Attach(receiver);
        long captureStep = 0;

        var cases = new (string Name, Action Body)[]
        {
            ("add of two 4-element tensors (dispatch floor)", () => _ = tiny + tiny),
            ($"elementwise compare on ({layers}, {rows})", () => _ = sa.gt(0)),
            ($"sort of ({layers}, {rows}) along rows", () => _ = sa.sort(1)),
            ($"elementwise division of ({layers}, {rows}, {n}) rows", () => _ = h / 3),
            ($"masked_fill of ({layers}, {rows}, {n}) with a broadcast row mask", () => _ = h.masked_fill(sa.gt(0).unsqueeze(2), 0)),
            ($"bmm ({layers}, {rows}, {n}) × ({layers}, {n}, 1)", () => _ = bmm(h, v.unsqueeze(2))),
            ($"stacking the bucket's captured rows", () => _ = new RowStack(perLayer, 1, n, h.device)),
            ($"SA cosines of the bucket, plain and centred, on the device", () => new RowAlignment(rowStack).Compute(v, [])),
            ($"SA statistics of the bucket's 2 × {layers} distributions on the host", () =>
            {
                for (int l = 0; l < layers; l++)
                    summary.Summarize(layout.Row(hostRows, 0, l), 1, rows, rows, vectorDefined: true);
            }),
            ($"one subspace step of ({layers}, {m}, {n}) weights, k = 4", () => _ = SubspaceIteration.Iterate(w, q, 1)),
            ($"Rayleigh–Ritz + residual + sign of the bucket", () => _ = SubspaceIteration.RayleighRitz(w, q, v, ones(layers, dtype: ScalarType.Bool))),
            ($"one subspace step + Rayleigh–Ritz of ({layers}, {m}, {n}) weights, batched device operations (SubspaceIteration)", () => _ = SubspaceIteration.RayleighRitz(runs, SubspaceIteration.Iterate(runs, q, oneStep), v, null, onHost: true)),
            ($"the same on the host, unit by unit (HostIteration, what CPU buckets of small weights use)", () => _ = HostIteration.Run(runs, q, oneStep, v, null)),
            ($"Linear {n} → {n} on 16 × 64 tokens, not watched (call)", () => _ = unwatched.call(tokens)),
            ($"the same, watched, on an unmeasured step (hook returns at once)", () => _ = idle.call(tokens)),
            ($"the same, watched, on a measured step (hook captures 256 of 1,024 rows; Take after)", () =>
            {
                receiver.Step = captureStep++;
                _ = measured.call(tokens);
                capture.Take().Rows?.Dispose();
            }),
            ($"hook capture alone: InputCapture.Add of 1,024 × {n} rows, 256 kept, + Take", () =>
            {
                capture.Add(captureStep++, tokenRows, index: stepIndex);
                capture.Take().Rows?.Dispose();
            }),
            ($"SpectralMonitor.Step() on an unmeasured step, 29 watched layers", stepMonitor.Step),
        };

        var text = new StringBuilder();
        text.AppendLine("| operation | median time (µs) |");
        text.AppendLine("|---|---:|");
        foreach (var (name, body) in cases)
        {
            double ms = Median(Time(() => { using var s = NewDisposeScope(); body(); }, warmup: 20, minRuns: 50, minSeconds: 0.3));
            text.AppendLine(FormattableString.Invariant($"| {name} | {F(1000 * ms, "0.0")} |"));
        }

        idleMonitor.Dispose();
        stepMonitor.Dispose();
        capture.Dispose();
        stepIndex.Dispose();
        return text.ToString();
    }

    /// <summary>Delivers every hooked call's rows to one capture, as the monitor's receiver does on a measured step.</summary>
    private sealed class CaptureReceiver(InputCapture capture, HostRowIndex index) : IInputReceiver
    {
        public long Step { get; set; }

        public bool BeginCall(nn.Module module) => true;

        public void Deliver(int view, RowSource rows, Func<RowRecovery>? recovery = null) => capture.Add(Step, rows, recovery, index);

        public void Reject(int view, Tensor input) => throw new InvalidOperationException("unexpected input");

        public void Fail(Exception exception) => throw new InvalidOperationException("capture failed", exception);
    }
}
