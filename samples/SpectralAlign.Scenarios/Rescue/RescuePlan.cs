namespace SpectralAlign.Scenarios.Rescue;

/// <summary>
/// The cases of a rescue evaluation: the edge-of-stability lottery (<c>gpt-lottery/edge</c>; stable configuration: the
/// same run at a learning rate of <see cref="LotteryStableLearningRate"/>) and the fork's two triggers
/// (<c>gpt-fork/lr</c>, <c>gpt-fork/beta2</c>; stable configuration: the untriggered <c>control</c> branch of the same
/// seed, which shares the base run and the post-fork batches).
/// </summary>
/// <param name="LotterySeeds">Seeds of the lottery.</param>
/// <param name="ForkSeeds">Seeds of each fork trigger.</param>
public sealed record RescuePlan(IReadOnlyList<int> LotterySeeds, IReadOnlyList<int> ForkSeeds)
{
    /// <summary>The lottery's stable learning rate: the largest piloted rate at which no seed exploded (1.2e-2: 0 of 6,
    /// PILOTS.md; 1.6e-2 already lost 2 of 20). It was chosen from the pilots, not from the held-out seeds.</summary>
    public const string LotteryStableLearningRate = "1.2e-2";

    /// <summary>The fork triggers evaluated.</summary>
    public static IReadOnlyList<string> ForkTriggers { get; } = ["lr", "beta2"];

    /// <summary>The evaluated cases, lottery first.</summary>
    public IReadOnlyList<RescueCase> Cases
    {
        get
        {
            var cases = new List<RescueCase>();
            foreach (int seed in LotterySeeds)
            {
                var reference = new RescueCase("gpt-lottery", "edge", seed, [new("lr", LotteryStableLearningRate)], null);
                cases.Add(new RescueCase("gpt-lottery", "edge", seed, [], reference));
            }

            foreach (string trigger in ForkTriggers)
            {
                foreach (int seed in ForkSeeds)
                    cases.Add(new RescueCase("gpt-fork", trigger, seed, [], new RescueCase("gpt-fork", "control", seed, [], null)));
            }

            return cases;
        }
    }

    /// <summary>The reference cases (each once).</summary>
    public IReadOnlyList<RescueCase> References => Cases.Select(c => c.Reference!).Distinct().ToList();
}
