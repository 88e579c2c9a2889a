using SpectralAlign.Scenarios.Data;
using SpectralAlign.Tests.Support;
using TorchSharp;

namespace SpectralAlign.Tests.ScenarioSuite;

/// <summary>The character corpus's batches: ordinary windows, the data shock's repeated n-grams, step indexing.</summary>
[Collection(TorchCollection.Name)]
public sealed class CharCorpusTests
{
    private const int Batch = 6, Context = 24;

    private static readonly string Text = File.ReadAllText(CharCorpus.DefaultPath());

    private static string Decode(CharCorpus corpus, long[] ids) => new(ids.Select(i => corpus.Vocabulary[(int)i]).ToArray());

    private static long[] Row(torch.Tensor t, int row) => t[row].data<long>().ToArray();

    [Theory]
    [InlineData(1, 6, false)]
    [InlineData(4, 3, false)]
    [InlineData(8, 6, false)]
    [InlineData(24, 1, false)]
    [InlineData(8, 4, true)]
    public void RepeatedNGramBatch_ShockRows_AreOneCorpusNGramTiledAndTheRestOrdinaryWindows(int ngram, int repeated, bool shared)
    {
        using var corpus = new CharCorpus(CharCorpus.DefaultPath());
        var (x, y) = corpus.RepeatedNGramBatch(new Random(7), Batch, Context, ngram, repeated, shared);
        using var xs = x;
        using var ys = y;

        Assert.Equal(new long[] { Batch, Context }, x.shape);
        for (int b = 0; b < Batch; b++)
        {
            long[] input = Row(x, b), target = Row(y, b);
            var sequence = input.Append(target[^1]).ToArray(); // the window of Context + 1 characters
            Assert.Equal(input.Skip(1), target.Take(Context - 1)); // targets are the next characters
            if (b < repeated)
            {
                string gram = Decode(corpus, sequence[..ngram]);
                Assert.Contains(gram, Text, StringComparison.Ordinal);
                for (int t = 0; t <= Context; t++)
                    Assert.Equal(sequence[t % ngram], sequence[t]);
            }
            else
            {
                Assert.Contains(Decode(corpus, sequence), Text, StringComparison.Ordinal);
            }
        }

        // Shared: one slice for all shocked rows. Distinct: the rows' own slices differ (checked where clashes are
        // unlikely; single characters repeat often; the offsets come from a fixed seed, so the check is deterministic).
        int slices = Enumerable.Range(0, repeated).Select(b => string.Join(",", Row(x, b))).Distinct().Count();
        if (shared)
            Assert.Equal(1, slices);
        else if (ngram >= 4)
            Assert.Equal(repeated, slices);
    }

    [Fact]
    public void RepeatedNGramBatch_OutOfRange_Throws()
    {
        using var corpus = new CharCorpus(CharCorpus.DefaultPath());
        Assert.Throws<ArgumentOutOfRangeException>(() => corpus.RepeatedNGramBatch(new Random(1), Batch, Context, 0, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => corpus.RepeatedNGramBatch(new Random(1), Batch, Context, Context + 1, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => corpus.RepeatedNGramBatch(new Random(1), Batch, Context, 4, Batch + 1));
    }

    [Fact]
    public void StepSeeds_SameStreamAndStep_SameBatch_OtherwiseDifferent()
    {
        using var corpus = new CharCorpus(CharCorpus.DefaultPath());
        long[] Batch(long stream, long step)
        {
            var (x, y) = corpus.Batch(new Random(StepSeeds.For(stream, step)), 4, Context);
            using (y)
            using (x)
                return x.data<long>().ToArray();
        }

        Assert.Equal(Batch(3, 100), Batch(3, 100));
        Assert.NotEqual(Batch(3, 100), Batch(3, 101));
        Assert.NotEqual(Batch(3, 100), Batch(4, 100));
        Assert.NotEqual(Batch(3, 100), Batch(-3, 100));
        Assert.Equal(1000, Enumerable.Range(0, 1000).Select(s => StepSeeds.For(1, s)).Distinct().Count());
    }
}
