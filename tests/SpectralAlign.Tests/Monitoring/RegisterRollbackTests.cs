using SpectralAlign.Hooks;
using SpectralAlign.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace SpectralAlign.Tests.Monitoring;

/// <summary>Registering several adapters (as <see cref="SpectralMonitor.WatchAll"/> does) is all-or-nothing.</summary>
[Collection(TorchCollection.Name)]
public sealed class RegisterRollbackTests
{
    /// <summary>A module's real adapter whose <see cref="LayerAdapter.Attach"/> throws.</summary>
    private sealed class ThrowingAttachAdapter(LayerAdapter inner) : LayerAdapter(inner.Module, inner.Kind)
    {
        public override IReadOnlyList<LayerView> Views => inner.Views;

        public override HookSet Attach(IInputReceiver receiver) => throw new InvalidOperationException("attach failed");
    }

    [Fact]
    public void Register_LaterAttachThrows_EarlierWatchesRolledBack()
    {
        using var kept = Layers.Gapped(8, 8, ScalarType.Float32, seed: 1);
        using var first = Layers.Gapped(8, 8, ScalarType.Float32, seed: 2);
        using var second = Layers.Gapped(8, 8, ScalarType.Float32, seed: 3);
        using var third = Layers.Gapped(8, 8, ScalarType.Float32, seed: 4);
        using var input = Layers.Randn([16, 8], ScalarType.Float32, seed: 5);
        using var harness = new MonitorHarness(new SpectralMonitorOptions { Interval = 1 });
        var monitor = harness.Monitor;
        var keptWatch = monitor.Watch(kept, "kept");

        var ex = Assert.Throws<InvalidOperationException>(() => monitor.Register(
            [Adapter(first, "first"), Adapter(second, "second"), new ThrowingAttachAdapter(Adapter(third, "third"))]));

        Assert.Equal("attach failed", ex.Message);
        Assert.Equal([keptWatch], monitor.Watches);
        Assert.Equal(0, TorchHooks.PreHookCount(first));
        Assert.Equal(0, TorchHooks.PreHookCount(second));
        Assert.Equal(0, TorchHooks.PreHookCount(third));
        Assert.Equal(1, TorchHooks.PreHookCount(kept));

        // The modules and names are free again: watching them works and they are measured.
        var again = monitor.Register([Adapter(first, "first"), Adapter(second, "second"), Adapter(third, "third")]);
        Assert.Equal(["kept", "first", "second", "third"], monitor.Watches.Select(w => w.Name));
        Assert.Equal(1, TorchHooks.PreHookCount(first));
        var (measured, _) = harness.StepOnce((kept, input), (first, input), (second, input), (third, input));
        Assert.Equal(["kept", "first", "second", "third"], measured.Select(m => m.Layer));
        Assert.All(again, w => Assert.False(w.IsDisposed));
    }

    private static LayerAdapter Adapter(nn.Module module, string name) =>
        LayerAdapters.TryCreate(module, name, out var adapter, out var problem) ? adapter! : throw new InvalidOperationException(problem);
}
