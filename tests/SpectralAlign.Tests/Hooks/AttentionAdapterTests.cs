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

        public void Deliver(int view, RowSource rows, RowRecovery? recovery = null) => recovery?.Dispose();

        public void Reject(int view, Tensor input)
        {
        }

        public void Fail(Exception exception)
        {
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
