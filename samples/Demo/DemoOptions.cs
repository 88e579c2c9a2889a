using System.Globalization;

/// <summary>Command line of the demo.</summary>
/// <param name="Detectors">Run the detector demo instead of the guard demo.</param>
/// <param name="Seed">The seed, or null for the mode's default (guard demo 17, detector demo 3).</param>
/// <param name="Threads">torch threads.</param>
/// <param name="RunLog">The detector demo's run log.</param>
internal sealed record DemoOptions(bool Detectors, int? Seed, int Threads, string RunLog)
{
    public static DemoOptions Parse(string[] args)
    {
        int? seed = null;
        int threads = Math.Min(2, Environment.ProcessorCount);
        bool detectors = false;
        string runLog = Path.Combine("artifacts", "demo", "demo-run.jsonl");
        for (int i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            switch (args[i])
            {
                case "--detectors": detectors = true; break;
                case "--seed": seed = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--threads": threads = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--run-log": runLog = Next(); break;
                default: throw new ArgumentException($"unknown argument '{args[i]}' (known: --detectors, --seed N, --threads N, --run-log PATH)");
            }
        }

        return new DemoOptions(detectors, seed, threads, runLog);
    }
}
