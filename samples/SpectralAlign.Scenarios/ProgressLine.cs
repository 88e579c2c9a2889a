namespace SpectralAlign.Scenarios;

/// <summary>
/// A live one-line progress display for long runs: on a terminal the line is redrawn in place (at most every 100 ms);
/// when output is redirected (a file, a pipe, CI) it degrades to a plain line every <c>plainEvery</c> steps. Messages
/// written through <see cref="WriteLine"/> appear above the progress line. The cursor is left at the start of the
/// line, so a log line written meanwhile by another thread simply overwrites it.
/// </summary>
public sealed class ProgressLine(TextWriter output, bool interactive, int plainEvery)
{
    private readonly System.Diagnostics.Stopwatch _sinceDraw = System.Diagnostics.Stopwatch.StartNew();
    private string _current = "";

    /// <summary>A progress line on the console; plain lines every <paramref name="plainEvery"/> steps when the output is redirected.</summary>
    /// <param name="plainEvery">Steps between plain lines.</param>
    /// <returns>The progress line.</returns>
    public static ProgressLine ForConsole(int plainEvery) => new(Console.Out, !Console.IsOutputRedirected, plainEvery);

    /// <summary>Shows the progress of a step (redrawn in place, or a plain line every few steps).</summary>
    /// <param name="step">The step.</param>
    /// <param name="text">The line.</param>
    /// <param name="force">Draw now whatever the throttle says.</param>
    public void Update(long step, string text, bool force = false)
    {
        if (!interactive)
        {
            if (force || step % plainEvery == 0)
                output.WriteLine(text);
            return;
        }

        _current = Fit(text);
        if (force || _sinceDraw.ElapsedMilliseconds >= 100)
        {
            output.Write("\r" + _current + "\x1b[K\r");
            _sinceDraw.Restart();
        }
    }

    /// <summary>Writes a message above the progress line.</summary>
    /// <param name="message">The message.</param>
    public void WriteLine(string message)
    {
        if (!interactive)
        {
            output.WriteLine(message);
            return;
        }

        output.Write("\r\x1b[K" + message + Environment.NewLine + _current + "\x1b[K\r");
    }

    /// <summary>Leaves the last progress state on screen as a normal line.</summary>
    public void Finish()
    {
        if (interactive && _current.Length > 0)
            output.Write("\r" + _current + "\x1b[K" + Environment.NewLine);
    }

    private static string Fit(string text)
    {
        int width;
        try
        {
            width = Console.WindowWidth;
        }
        catch (IOException)
        {
            width = 120;
        }

        return width > 1 && text.Length >= width ? text[..(width - 1)] : text;
    }
}
