namespace SpectralAlign.Hooks;

/// <summary>
/// The TorchSharp hooks of one watch. Disposing it makes the hooks inert at once; they are physically removed
/// either immediately (when disposed on the thread that runs the forward passes, or before any forward pass ran) or,
/// when disposed from another thread, by the hook itself at its next invocation on the forward thread. TorchSharp's
/// hook dictionary is not thread-safe, so a removal must never race a forward pass on another thread.
/// </summary>
internal sealed class HookSet : IDisposable
{
    private readonly Action[] _removers;
    private int _removed;
    private volatile bool _inert;
    private int _forwardThread = -1;

    private HookSet(Action[] removers) => _removers = removers;

    /// <summary>Registers one watch's hooks, all or nothing: each registration is given the set (for its hook's
    /// <see cref="Enter"/>) and returns its remover. If a registration throws, the hooks registered before it are
    /// removed, latest first, before the exception propagates, so the module is left with no hook of ours.</summary>
    public static HookSet Register(params Func<HookSet, Action>[] registrations)
    {
        var removers = new Action[registrations.Length];
        var hooks = new HookSet(removers);
        int registered = 0;
        try
        {
            for (; registered < registrations.Length; registered++)
                removers[registered] = registrations[registered](hooks);
        }
        catch
        {
            for (int i = registered - 1; i >= 0; i--)
                removers[i]();
            throw;
        }

        return hooks;
    }

    /// <summary>Called by every hook invocation first. Returns false when the hook must do nothing (and removes the
    /// hooks if they were disposed from another thread).</summary>
    public bool Enter()
    {
        if (!_inert)
        {
            _forwardThread = Environment.CurrentManagedThreadId;
            return true;
        }

        // Removing a hook while TorchSharp enumerates the module's hooks on this same thread is safe
        // (Dictionary.Remove does not invalidate enumerators).
        RemoveAll();
        return false;
    }

    public void Dispose()
    {
        _inert = true;
        int forward = Volatile.Read(ref _forwardThread);
        if (forward == -1 || forward == Environment.CurrentManagedThreadId)
            RemoveAll();
    }

    private void RemoveAll()
    {
        if (Interlocked.Exchange(ref _removed, 1) != 0)
            return;
        foreach (var remove in _removers)
            remove();
    }
}
