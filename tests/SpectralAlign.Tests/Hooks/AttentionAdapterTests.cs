using System.Reflection;
using SpectralAlign.Hooks;
using SpectralAlign.Tests.Support;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace SpectralAlign.Tests.Hooks;

/// <summary><see cref="AttentionAdapter.Attach"/> registers two hooks (before and after the forward pass); it is
/// all-or-nothing.</summary>
[Collection(TorchCollection.Name)]
public sealed class AttentionAdapterTests
{
    /// <summary>Counts every hook invocation that reaches it.</summary>
    private sealed class CountingReceiver : IInputReceiver
    {
        public int Calls { get; private set; }

        public bool BeginCall(nn.Module module)
        {
            Calls++;
            return true;
        }

        public void Deliver(int view, RowSource rows, Func<RowRecovery>? recovery = null)
        {
        }

        public void Reject(int view, Tensor input)
        {
        }

        public void Fail(Exception exception)
        {
        }
    }

    /// <summary>Captures what the hooks deliver into one <see cref="InputCapture"/> per view, as the monitor does (a
    /// call is wanted while some view has room), and counts the calls and the recoveries made.</summary>
    private sealed class CapturingReceiver(int capacity) : IInputReceiver, IDisposable
    {
        private readonly InputCapture[] _captures = [.. Enumerable.Range(0, 4).Select(v => new InputCapture($"v{v}", capacity, seed: 1))];

        public int Calls { get; private set; }

        public int Recoveries { get; private set; }

        public bool BeginCall(nn.Module module)
        {
            bool wanted = !_captures.All(c => c.IsFull);
            Calls += wanted ? 1 : 0;
            return wanted;
        }

        public void Deliver(int view, RowSource rows, Func<RowRecovery>? recovery = null) =>
            _captures[view].Add(0, rows, recovery is null ? null : () => { Recoveries++; return recovery(); });

        public void Reject(int view, Tensor input) => throw new InvalidOperationException($"view {view} rejected");

        public void Fail(Exception exception) => throw new InvalidOperationException("capture failed", exception);

        /// <summary>The rows captured for <paramref name="view"/> (owned by the caller) and the rows seen.</summary>
        public (Tensor Rows, long Seen) Take(int view)
        {
            var (rows, seen) = _captures[view].Take();
            return (rows ?? throw new InvalidOperationException($"view {view} captured nothing"), seen);
        }

        public void Dispose()
        {
            foreach (var capture in _captures)
                capture.Dispose();
        }
    }

    [Fact]
    public void Attach_SecondRegistrationThrows_LeavesNoHookOfOurs()
    {
        manual_seed(1);
        using var attention = nn.MultiheadAttention(12, 3);
        using var query = Layers.Randn([5, 4, 12], ScalarType.Float32, seed: 2);
        var adapter = LayerAdapters.TryCreate(attention, "attn", out var created, out var problem)
            ? created! : throw new InvalidOperationException(problem);
        var receiver = new CountingReceiver();

        // The seam: TorchSharp's post-hook table is taken away, so the first registration (the pre-hook) succeeds
        // and the second (the post-hook) throws.
        var postHooks = PostHookTable(attention);
        var table = postHooks.GetValue(attention);
        postHooks.SetValue(attention, null);
        try
        {
            Assert.ThrowsAny<Exception>(() => adapter.Attach(receiver));
        }
        finally
        {
            postHooks.SetValue(attention, table);
        }

        Assert.Equal(0, TorchHooks.PreHookCount(attention));
        using (no_grad())
            attention.call(query, query, query).Item1.Dispose();
        Assert.Equal(0, receiver.Calls);

        // Attaching again works, and both hooks reach the receiver.
        using (adapter.Attach(receiver))
        {
            using (no_grad())
                attention.call(query, query, query).Item1.Dispose();
        }

        Assert.Equal(2, receiver.Calls);
        Assert.Equal(0, TorchHooks.PreHookCount(attention));
    }

    [Fact]
    public void Attach_KeyValueStillFillingAfterOutIsFull_CopiesTheOutProjectionOnceAndRecoversTheForwardTimeInput()
    {
        manual_seed(3);
        using var scope = NewDisposeScope();
        var attention = nn.MultiheadAttention(12, 3);
        var adapter = LayerAdapters.TryCreate(attention, "attn", out var created, out var problem)
            ? created! : throw new InvalidOperationException(problem);
        using var receiver = new CapturingReceiver(capacity: 16);
        var outputs = new List<Tensor>();
        using (adapter.Attach(receiver))
        using (no_grad())
        {
            for (int i = 0; i < 3; i++)
            {
                var keyValue = Layers.Randn([2, 2, 12], ScalarType.Float32, seed: 20 + i);   // 4 rows a call
                outputs.Add(attention.call(Layers.Randn([8, 2, 12], ScalarType.Float32, seed: 10 + i), keyValue, keyValue).Item1);   // 16 rows
            }
        }

        // q and out are full after the first call, k and v are still filling: both hooks of every call capture, but
        // W_o and b are copied only for the one call whose out rows are kept (before, on each of the three).
        Assert.Equal(6, receiver.Calls);
        Assert.Equal(1, receiver.Recoveries);

        // The optimizer then updates W_o and b in place, before Step() recovers the rows.
        var parameters = attention.named_parameters().ToDictionary(p => p.name, p => (Tensor)p.parameter);
        Tensor weight = parameters["out_proj.weight"], bias = parameters["out_proj.bias"];
        var (forwardWeight, forwardBias) = (weight.detach().clone(), bias.detach().clone());
        using (no_grad())
        {
            weight.add_(0.5);
            bias.sub_(0.25);
        }

        // Reference: the first call's out-projection input x from y = x·W_oᵀ + b with the forward-time W_o and b, by
        // a linear solve; the sample holds all 16 rows, in order.
        var (rows, seen) = receiver.Take(3);
        using var held = rows;
        var y = outputs[0].reshape(-1, 12).to(ScalarType.Float64) - forwardBias.to(ScalarType.Float64);
        var expected = linalg.solve(forwardWeight.to(ScalarType.Float64), y.t()).t();
        Assert.Equal(3 * 16, seen);   // every call reached the out view while k and v were filling
        Assert.Equal(new long[] { 1, 16, 12 }, rows.shape);
        Assert.True(rows[0].to(ScalarType.Float64).allclose(expected, rtol: 1e-4, atol: 1e-5), "recovered rows differ from the forward-time input");
    }

    private static FieldInfo PostHookTable(MultiheadAttention attention)
    {
        for (var type = attention.GetType(); type is not null; type = type.BaseType)
        {
            if (type.GetField("post_hooks", BindingFlags.Instance | BindingFlags.NonPublic) is { } field)
                return field;
        }

        throw new InvalidOperationException("TorchSharp's post-hook table was not found.");
    }
}
