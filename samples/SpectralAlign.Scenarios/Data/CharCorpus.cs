using static TorchSharp.torch;

namespace SpectralAlign.Scenarios.Data;

/// <summary>
/// A character-level view of a text file: the vocabulary is the sorted set of its characters, the first
/// <see cref="TrainFraction"/> of the text is the training split, and batches are random windows of it drawn from a
/// seeded <see cref="Random"/>.
/// </summary>
public sealed class CharCorpus : IDisposable
{
    /// <summary>Fraction of the text used for training; the rest is held out.</summary>
    public const double TrainFraction = 0.9;

    /// <summary>The file name of the corpus shipped with the scenarios (see data/README.md).</summary>
    public const string DefaultFileName = "sotu-1790-1835.txt";

    private readonly Tensor _train;
    private readonly long _trainLength;

    /// <summary>Loads and encodes a text file.</summary>
    /// <param name="path">The file (UTF-8).</param>
    public CharCorpus(string path)
    {
        string text = File.ReadAllText(path);
        Vocabulary = text.Distinct().Order().ToArray();
        var index = new Dictionary<char, long>();
        for (int i = 0; i < Vocabulary.Count; i++)
            index[Vocabulary[i]] = i;
        var ids = new long[text.Length];
        for (int i = 0; i < text.Length; i++)
            ids[i] = index[text[i]];
        Length = ids.Length;
        _trainLength = (long)(ids.Length * TrainFraction);
        _train = tensor(ids[..(int)_trainLength]);
        Path = path;
    }

    /// <summary>The file the corpus was read from.</summary>
    public string Path { get; }

    /// <summary>Characters of the vocabulary, sorted; a token id is an index into it.</summary>
    public IReadOnlyList<char> Vocabulary { get; }

    /// <summary>Characters in the whole text.</summary>
    public long Length { get; }

    /// <summary>Finds the shipped corpus next to the assembly (it is copied to the output folder).</summary>
    /// <returns>The path.</returns>
    /// <exception cref="FileNotFoundException">The corpus is not there.</exception>
    public static string DefaultPath()
    {
        string path = System.IO.Path.Combine(AppContext.BaseDirectory, "data", DefaultFileName);
        return File.Exists(path) ? path : throw new FileNotFoundException("The scenario corpus was not copied to the output folder.", path);
    }

    /// <summary>A batch of random windows from the training split.</summary>
    /// <param name="random">The seeded source of window offsets.</param>
    /// <param name="batch">Windows.</param>
    /// <param name="context">Window length.</param>
    /// <returns>Inputs (batch, context) and next-character targets (batch, context), int64.</returns>
    public (Tensor X, Tensor Y) Batch(Random random, int batch, int context)
    {
        ArgumentNullException.ThrowIfNull(random);
        var offsets = new long[batch * (context + 1)];
        for (int b = 0; b < batch; b++)
        {
            long start = random.NextInt64(_trainLength - context - 1);
            for (int t = 0; t <= context; t++)
                offsets[b * (context + 1) + t] = start + t;
        }

        return Windows(offsets, batch, context);
    }

    /// <summary>
    /// A batch whose first <paramref name="repeated"/> rows are repeated n-grams (a data shock): each such row is an
    /// <paramref name="ngram"/>-character slice of the training split, at a random offset, tiled over the window (so
    /// from position n on every target equals the input n positions back); the other rows are ordinary windows.
    /// </summary>
    /// <param name="random">The seeded source of offsets.</param>
    /// <param name="batch">Rows.</param>
    /// <param name="context">Window length.</param>
    /// <param name="ngram">Length of the repeated slice; 1 ≤ n ≤ context.</param>
    /// <param name="repeated">Rows that are repeated n-grams; 0 ≤ repeated ≤ batch.</param>
    /// <param name="shared">True: all repeated rows tile the same n-gram; false: each row its own.</param>
    /// <returns>Inputs and next-character targets (batch, context), int64.</returns>
    /// <exception cref="ArgumentOutOfRangeException">n or the row count out of range.</exception>
    public (Tensor X, Tensor Y) RepeatedNGramBatch(Random random, int batch, int context, int ngram, int repeated, bool shared = false)
    {
        ArgumentNullException.ThrowIfNull(random);
        ArgumentOutOfRangeException.ThrowIfLessThan(ngram, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(ngram, context);
        ArgumentOutOfRangeException.ThrowIfNegative(repeated);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(repeated, batch);
        var offsets = new long[batch * (context + 1)];
        long sharedStart = shared ? random.NextInt64(_trainLength - ngram) : 0;
        for (int b = 0; b < batch; b++)
        {
            bool shock = b < repeated;
            long start = shock && shared ? sharedStart : random.NextInt64(_trainLength - (shock ? ngram : context + 1));
            for (int t = 0; t <= context; t++)
                offsets[b * (context + 1) + t] = start + (shock ? t % ngram : t);
        }

        return Windows(offsets, batch, context);
    }

    /// <inheritdoc />
    public void Dispose() => _train.Dispose();

    private (Tensor X, Tensor Y) Windows(long[] offsets, int batch, int context)
    {
        using var scope = NewDisposeScope();
        var windows = _train.take(tensor(offsets).view(batch, context + 1));
        var x = windows.narrow(1, 0, context).contiguous();
        var y = windows.narrow(1, 1, context).contiguous();
        return (x.MoveToOuterDisposeScope(), y.MoveToOuterDisposeScope());
    }
}
