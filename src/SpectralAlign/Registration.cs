namespace SpectralAlign;

/// <summary>An <see cref="IDisposable"/> that runs its action once, on the first Dispose.</summary>
internal sealed class Registration(Action onDispose) : IDisposable
{
    private Action? _onDispose = onDispose;

    public void Dispose() => Interlocked.Exchange(ref _onDispose, null)?.Invoke();
}
