using System.Globalization;
using MathNet.Numerics.Statistics;

namespace SpectralAlign.Guard;

/// <summary>
/// The guard's own loss-spike check: a finite loss L is a spike when, against the median M and median absolute deviation
/// MAD of the last <c>window</c> losses that were not spikes, L − M &gt; (factor − 1)·|M| and
/// L − M &gt; deviations·1.4826·MAD. Judges only once the window is full; spikes do not enter the window.
/// </summary>
internal sealed class LossSpikeCheck(int window, double factor, double deviations)
{
    private readonly Queue<double> _recent = new();

    /// <summary>Judges <paramref name="loss"/>; a non-finite loss is never a spike here (it has its own trigger) and
    /// does not enter the window.</summary>
    /// <returns>Whether it is a spike; <paramref name="detail"/> then gives the numbers.</returns>
    public bool IsSpike(double loss, out string detail)
    {
        detail = "";
        if (!double.IsFinite(loss))
            return false;
        if (_recent.Count >= window)
        {
            var values = _recent.ToArray();
            double median = values.Median();
            double mad = values.Select(v => Math.Abs(v - median)).Median();
            double excess = loss - median;
            if (excess > (factor - 1) * Math.Abs(median) && excess > deviations * 1.4826 * mad)
            {
                detail = string.Create(CultureInfo.InvariantCulture, $"loss {loss:G4} against median {median:G4} (MAD {mad:G3}) of the last {window} steps");
                return true;
            }
        }

        _recent.Enqueue(loss);
        while (_recent.Count > window)
            _recent.Dequeue();
        return false;
    }

    /// <summary>Forgets the history (after a rollback the recent losses belong to another trajectory).</summary>
    public void Reset() => _recent.Clear();

    /// <summary>The window's losses, oldest first, for checkpoints.</summary>
    public double[] Save() => [.. _recent];

    /// <summary>Restores what <see cref="Save"/> returned.</summary>
    public void Restore(IEnumerable<double> losses)
    {
        _recent.Clear();
        foreach (var l in losses.TakeLast(window))
            _recent.Enqueue(l);
    }
}
