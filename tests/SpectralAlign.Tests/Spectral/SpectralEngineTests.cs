using Mono.Cecil;
using SpectralAlign.Spectral;
using SpectralAlign.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace SpectralAlign.Tests.Spectral;

/// <summary>The measurement engine called directly with plain tensors (no module, no hook), against SVD references.</summary>
[Collection(TorchCollection.Name)]
public sealed class SpectralEngineTests
{
    public static TheoryData<int, int, int, ScalarType> Shapes() => new()
    {
        { 1, 64, 32, ScalarType.Float32 },    // tall
        { 1, 24, 96, ScalarType.Float32 },    // wide
        { 1, 1, 40, ScalarType.Float32 },     // 1 × n: rank 1
        { 1, 9, 1, ScalarType.Float32 },      // n = 1: v1 = ±1
        { 1, 3, 2, ScalarType.Float32 },      // n smaller than the subspace dimension
        { 1, 48, 48, ScalarType.Float64 },
        { 1, 40, 56, ScalarType.BFloat16 },
        { 1, 40, 56, ScalarType.Float16 },
        { 3, 16, 12, ScalarType.Float32 },    // G > 1 (a grouped convolution's blocks)
        { 2, 8, 20, ScalarType.Float64 },
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Measure_PlainTensors_MatchesSvdReference(int groups, int outFeatures, int inFeatures, ScalarType dtype)
    {
        using var weight = EngineHarness.GappedWeight(groups, outFeatures, inFeatures, dtype, seed: 11);
        using var rows = EngineHarness.OffsetRows(groups, 150, inFeatures, dtype, seed: 13);

        var (m, v1) = EngineHarness.MeasureOnce(weight, rows);

        EngineHarness.AssertMatchesSvd(weight, rows, m, v1);
        Assert.Equal(groups * 150, m.Stats.Count);
        Assert.Equal(150, m.InputRows);
        Assert.Equal(MeasurementConditions.ColdStart, m.Conditions);
        Assert.True(m.Residual <= 1e-5, $"residual {m.Residual}");
    }

    [Theory]
    [InlineData(1e30)]
    [InlineData(1e-41)]   // denormal in float32
    public void Measure_ExtremeWeightScales_ReportScaledSpectrumAndUnchangedAlignment(double scale)
    {
        using var reference = EngineHarness.GappedWeight(1, 16, 24, ScalarType.Float64, seed: 21);
        using var weight = (reference * scale).to(ScalarType.Float32);
        using var rows = EngineHarness.OffsetRows(1, 64, 24, ScalarType.Float32, seed: 22);

        var (m, v1) = EngineHarness.MeasureOnce(weight, rows);
        var (expected, _) = EngineHarness.MeasureOnce(reference, rows);

        // float32 storage of the scaled weight (denormals keep only a few significant bits) limits the agreement.
        double tolerance = scale < 1e-38 ? 0.05 : 1e-4;
        Assert.Equal(expected.SpectralNorm * scale, m.SpectralNorm, expected.SpectralNorm * scale * tolerance);
        Assert.Equal(MeasurementConditions.ColdStart, m.Conditions);
        if (scale > 1)
            EngineHarness.AssertMatchesSvd(weight, rows, m, v1);
        else
            Assert.Equal(expected.Stats.AbsMean, m.Stats.AbsMean, 0.05);
    }

    [Theory]
    [InlineData(1e30f)]
    [InlineData(1e-40f)]   // denormal float32 rows
    public void Measure_ExtremeRowScales_SameAlignmentAsUnitRows(float scale)
    {
        using var weight = EngineHarness.GappedWeight(1, 16, 16, ScalarType.Float32, seed: 8);
        using var rows = EngineHarness.OffsetRows(1, 64, 16, ScalarType.Float32, seed: 9);
        using var scaled = rows * scale;

        var (m, v1) = EngineHarness.MeasureOnce(weight, scaled);
        var (unit, _) = EngineHarness.MeasureOnce(weight, rows);

        var (refV1, _) = Reference.Svd(weight[0]);
        var aligned = refV1.Select(x => Math.Sign(Reference.Cosine(v1[0], refV1)) * x).ToArray();
        var valid = Reference.Rows(rows);
        Reference.AssertMatches(Reference.Stats(Reference.Alignments(valid, aligned), EngineHarness.Bins), m.Stats, 1e-4);
        Reference.AssertMatches(Reference.Stats(EngineHarness.CenteredAlignments(valid, aligned), EngineHarness.Bins), m.CenteredStats, 1e-4);
        // Denormal float32 values keep only a few significant bits.
        double relative = scale < 1 ? 1e-3 : 1e-6;
        Assert.Equal(unit.MaxInputRowNorm * scale, m.MaxInputRowNorm, unit.MaxInputRowNorm * scale * relative);
        Assert.Equal(unit.MaxAbsInput * scale, m.MaxAbsInput, unit.MaxAbsInput * scale * relative);
    }

    [Fact]
    public void Measure_GuardState_KeepsSigma1AndLeftVectorOfTheSvd()
    {
        using var weight = EngineHarness.GappedWeight(2, 14, 10, ScalarType.Float32, seed: 45);
        using var rows = EngineHarness.OffsetRows(2, 30, 10, ScalarType.Float32, seed: 46);
        using var state = new SpectralState();
        using var engine = new SpectralEngine(EngineHarness.Options().ToEngineSettings());
        var m = EngineHarness.Measure(engine, 0, weight, rows, state);

        Assert.Equal(m.SpectralNorm, state.Sigma1);
        Assert.Equal(new long[] { 2, 14 }, state.LeftVector!.shape);
        var v1 = EngineHarness.V1(state);
        for (int g = 0; g < 2; g++)
        {
            using var w = weight[g];
            using var u1 = state.LeftVector[g];
            using var scope = NewDisposeScope();
            var (_, singular, vh) = linalg.svd(w.to(ScalarType.Float64), fullMatrices: false);
            var u = Reference.ToDoubles(w.to(ScalarType.Float64).matmul(vh[0]) / singular[0]);
            var ours = Reference.ToDoubles(u1);
            // u1 = W v1 / σ1: unit length, the SVD's u up to sign, and the sign that goes with the state's v1.
            Assert.Equal(1, Reference.Norm(ours), 1e-5);
            Assert.True(Math.Abs(Reference.Cosine(ours, u)) >= 0.9999);
            var wv = Reference.ToDoubles(w.to(ScalarType.Float64).matmul(tensor(v1[g])));
            Assert.True(Reference.Cosine(ours, wv) >= 0.9999);
        }
    }

    /// <summary>Degenerate inputs: each becomes a flag and well-defined statistics, never an exception or NaN.</summary>
    [Theory]
    [InlineData("zero rows", MeasurementConditions.ColdStart, 40, 10, 0)]
    [InlineData("non-finite rows", MeasurementConditions.ColdStart | MeasurementConditions.NonFiniteInput, 40, 0, 10)]
    [InlineData("all rows zero", MeasurementConditions.ColdStart | MeasurementConditions.NoValidRows, 0, 50, 0)]
    [InlineData("no rows", MeasurementConditions.ColdStart | MeasurementConditions.NoInput, 0, 0, 0)]
    [InlineData("zero weight", MeasurementConditions.ColdStart | MeasurementConditions.ZeroWeight, 0, 0, 0)]
    [InlineData("non-finite weight", MeasurementConditions.ColdStart | MeasurementConditions.NonFiniteWeight, 0, 0, 0)]
    [InlineData("non-finite weight in one group", MeasurementConditions.ColdStart | MeasurementConditions.NonFiniteWeight, 0, 0, 0)]
    public void Measure_DegenerateInput_FlagsAndCountsIt(string @case, MeasurementConditions expected, int count, int zeroRows, int nonFiniteRows)
    {
        int groups = @case.Contains("group", StringComparison.Ordinal) ? 2 : 1;
        using var scope = NewDisposeScope();
        var weight = EngineHarness.GappedWeight(groups, 12, 10, ScalarType.Float32, seed: 31);
        var rows = EngineHarness.OffsetRows(groups, 50, 10, ScalarType.Float32, seed: 32);
        switch (@case)
        {
            case "zero rows": rows[0, TensorIndex.Slice(0, 10)] = zeros(10, 10); break;
            case "non-finite rows":
                rows[0, TensorIndex.Slice(0, 5), 3] = full(5, float.NaN);
                rows[0, TensorIndex.Slice(5, 10), 7] = full(5, float.PositiveInfinity);
                break;
            case "all rows zero": rows = zeros_like(rows); break;
            case "zero weight": weight = zeros_like(weight); break;
            case "non-finite weight": weight[0, 2, 3] = tensor(float.NaN); break;
            case "non-finite weight in one group": weight[1, 0, 0] = tensor(float.PositiveInfinity); break;
        }

        var (m, v1) = EngineHarness.MeasureOnce(weight, @case == "no rows" ? null : rows);

        Assert.Equal(expected, m.Conditions);
        Assert.Equal(count, m.Stats.Count);
        Assert.Equal(zeroRows, m.Stats.ZeroRows);
        Assert.Equal(nonFiniteRows, m.Stats.NonFiniteRows);
        double[] values = [m.Stats.Mean, m.Stats.StdDev, m.Stats.PositiveFraction, m.Stats.Min, m.Stats.Max, m.InputMeanAlignment, m.MaxAbsInput, m.Residual, m.SecondSingularValue];
        Assert.All(values, x => Assert.True(double.IsFinite(x), $"{@case}: {m}"));
        if (@case is "zero rows" or "non-finite rows")
        {
            using var valid = rows.narrow(1, 10, 40);
            EngineHarness.AssertMatchesSvd(weight, valid, m, v1);
        }
        else if (@case == "zero weight")
        {
            Assert.Equal(0, m.SpectralNorm);
            Assert.Empty(v1);   // no singular vector is kept for an undefined direction
        }
        else if (@case.StartsWith("non-finite weight", StringComparison.Ordinal))
        {
            Assert.Equal(double.PositiveInfinity, m.SpectralNorm);
            Assert.Empty(v1);
        }
    }

    [Fact]
    public void Measure_SecondCallOnTheSameState_WarmStartsAndKeepsSigma1()
    {
        using var weight = EngineHarness.GappedWeight(1, 20, 16, ScalarType.Float32, seed: 41);
        using var rows = EngineHarness.OffsetRows(1, 60, 16, ScalarType.Float32, seed: 42);
        using var state = new SpectralState();
        using var engine = new SpectralEngine(EngineHarness.Options().ToEngineSettings());

        var first = EngineHarness.Measure(engine, 0, weight, rows, state);
        var second = EngineHarness.Measure(engine, 1, weight, rows, state);

        Assert.Equal(MeasurementConditions.ColdStart, first.Conditions);
        Assert.Equal(MeasurementConditions.None, second.Conditions);
        Assert.Equal((0L, 1L), (first.Step, second.Step));
        Assert.Equal(second.SpectralNorm, state.Sigma1);
        Assert.Equal(first.Stats.Mean, second.Stats.Mean, 1e-6);   // same sign convention: the warm v1 keeps it
        EngineHarness.AssertMatchesSvd(weight, rows, second, EngineHarness.V1(state));
    }

    [Fact]
    public void Measure_NeverWritesOrDisposesItsInputs()
    {
        using var weight = EngineHarness.GappedWeight(1, 20, 16, ScalarType.Float32, seed: 51);
        using var rows = EngineHarness.OffsetRows(1, 60, 16, ScalarType.Float32, seed: 52);
        using var weightCopy = weight.clone();
        using var rowsCopy = rows.clone();

        using var state = new SpectralState();
        using var engine = new SpectralEngine(EngineHarness.Options().ToEngineSettings());
        EngineHarness.Measure(engine, 0, weight, rows, state);
        EngineHarness.Measure(engine, 1, weight, rows, state);   // the warm, unscaled path uses the weight itself

        Assert.True(weight.eq(weightCopy).all().item<bool>());
        Assert.True(rows.eq(rowsCopy).all().item<bool>());
        Assert.Equal(ScalarType.Float32, weight.dtype);   // still alive and usable
    }

    [Fact]
    public void Measure_SeveralLayersInOneCall_EachAsIfMeasuredAlone()
    {
        // Different out widths, input widths, groups and dtypes: several buckets, padding inside one.
        (int G, int M, int N, ScalarType Type)[] shapes = [(1, 30, 16, ScalarType.Float32), (1, 7, 16, ScalarType.Float64), (2, 5, 16, ScalarType.Float32), (1, 12, 9, ScalarType.BFloat16)];
        using var scope = NewDisposeScope();
        var weights = shapes.Select((s, i) => EngineHarness.GappedWeight(s.G, s.M, s.N, s.Type, seed: 60 + i)).ToArray();
        var rows = shapes.Select((s, i) => EngineHarness.OffsetRows(s.G, 40 + i, s.N, s.Type, seed: 70 + i)).ToArray();
        var states = shapes.Select(_ => new SpectralState()).ToArray();

        using var togetherEngine = new SpectralEngine(EngineHarness.Options().ToEngineSettings());
        var together = togetherEngine.Measure(5, shapes.Select((_, i) => new LayerInput($"l{i}", weights[i], rows[i], 1000, states[i])).ToList());

        Assert.Equal(shapes.Select((_, i) => $"l{i}"), together.Select(m => m.Layer));
        for (int i = 0; i < shapes.Length; i++)
        {
            Assert.Equal(5, together[i].Step);
            Assert.Equal(1000, together[i].InputRows);
            EngineHarness.AssertMatchesSvd(weights[i], rows[i], together[i], EngineHarness.V1(states[i]));
            states[i].Dispose();
        }
    }

    [Fact]
    public void LayerInput_ShapesThatDoNotFit_ThrowNamingTheLayer()
    {
        using var state = new SpectralState();
        using var weight = zeros(2, 4, 5);
        using var matrix = zeros(4, 5);
        using var wrongGroups = zeros(1, 3, 5);
        using var wrongWidth = zeros(2, 3, 6);
        using var integers = zeros(2, 3, 5, dtype: ScalarType.Int64);

        Assert.Contains("'w2d'", Assert.Throws<ArgumentException>(() => new LayerInput("w2d", matrix, null, 0, state)).Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => new LayerInput("g", weight, wrongGroups, 0, state));
        Assert.Throws<ArgumentException>(() => new LayerInput("n", weight, wrongWidth, 0, state));
        Assert.Throws<ArgumentException>(() => new LayerInput("int", weight, integers, 0, state));
    }

    [Fact]
    public void ResultLayout_MissingOrMisSizedField_FailsLoudly()
    {
        var layout = new ResultLayout(rowSlots: 6);
        using var scope = NewDisposeScope();
        var columns = Enum.GetValues<ResultField>().ToDictionary(f => f, f => f switch
        {
            ResultField.RowMaxAbs or ResultField.RowNorm or ResultField.RowDotVector or ResultField.RowDotSum => zeros(3, 6),
            _ => arange(3, dtype: ScalarType.Float64) + (int)f,
        });

        using var packed = layout.Pack(columns);
        var values = packed.data<double>().ToArray();
        Assert.Equal(layout.Width * 3, values.Length);
        Assert.Equal(2 + (int)ResultField.Sigma1, layout.Row(values, 0, 2)[ResultField.Sigma1]);
        Assert.Equal(2 + (int)ResultField.UpdateSquared, layout.Row(values, 0, 2)[ResultField.UpdateSquared]);

        columns[ResultField.RowDotVector] = zeros(3, 5);
        Assert.Contains("RowDotVector", Assert.Throws<InvalidOperationException>(() => { layout.Pack(columns); }).Message, StringComparison.Ordinal);
        columns.Remove(ResultField.RowDotVector);
        Assert.Contains("RowDotVector", Assert.Throws<InvalidOperationException>(() => { layout.Pack(columns); }).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ResultLayout_HostPack_SameTensorAsTheDevicePackAndFailsLoudly()
    {
        var layout = ResultLayout.ForHost();
        using var scope = NewDisposeScope();
        var fields = Enum.GetValues<ResultField>().Where(f => layout.FieldWidth(f) > 0).ToList();
        var host = fields.ToDictionary(f => f, f => new[] { 0.5 + (int)f, -3.0 * (int)f, double.NaN });
        var device = fields.ToDictionary(f => f, f => tensor(host[f]));

        var packed = layout.Pack(3, host);

        Assert.Equal(layout.Pack(device).data<double>().ToArray(), packed.data<double>().ToArray());
        Assert.Equal(new long[] { 3, layout.Width }, packed.shape);
        host[ResultField.Residual] = [1, 2];
        Assert.Contains("Residual", Assert.Throws<InvalidOperationException>(() => { layout.Pack(3, host); }).Message, StringComparison.Ordinal);
        host.Remove(ResultField.Residual);
        Assert.Contains("Residual", Assert.Throws<InvalidOperationException>(() => { layout.Pack(3, host); }).Message, StringComparison.Ordinal);
        var full = new ResultLayout(rowSlots: 2);   // per-row fields two values wide: not host values
        var all = Enum.GetValues<ResultField>().ToDictionary(f => f, _ => new double[3]);
        Assert.Contains("RowMaxAbs", Assert.Throws<InvalidOperationException>(() => { full.Pack(3, all); }).Message, StringComparison.Ordinal);
    }

    /// <summary>The engine's namespace, as compiled, names no type of the library outside it except the measurement
    /// it returns (the public result types): no monitor, options, hook, detection or telemetry type, so that the
    /// engine is callable and testable with plain tensors. Checked on the compiled code, which also sees what a
    /// text search of the source cannot (types named through <c>var</c>, lambdas, extension calls).</summary>
    [Fact]
    public void SpectralNamespace_NamesNoLibraryTypeAboveIt()
    {
        string[] results = [nameof(LayerMeasurement), nameof(SpectralAlignmentStats), nameof(MeasurementConditions)];
        var library = CompiledCode.Read(typeof(SpectralEngine).Assembly.Location).MainModule;
        var engineTypes = library.Types.Where(t => t.Namespace == typeof(SpectralEngine).Namespace).ToList();

        static TypeReference Outermost(TypeReference type) => type.DeclaringType is { } outer ? Outermost(outer) : type;
        var above = engineTypes
            .SelectMany(t => CompiledCode.TypesNamedBy(t).Select(named => (User: t.Name, Named: Outermost(named))))
            .Where(x => x.Named.Scope == library && x.Named.Namespace != typeof(SpectralEngine).Namespace
                && !(x.Named.Namespace == "SpectralAlign" && results.Contains(x.Named.Name))
                && !x.Named.Name.StartsWith('<'))   // compiler-generated helpers (<PrivateImplementationDetails>)
            .Select(x => $"{x.User} names {x.Named.FullName}")
            .Distinct()
            .ToList();

        Assert.True(engineTypes.Count > 10, $"only {engineTypes.Count} engine types found: the rule would be vacuous");
        Assert.True(above.Count == 0, string.Join(Environment.NewLine, above));
    }

    /// <summary>The host copy of the results (here 4 × 8,192 row values, 256 KiB) goes into a pooled buffer: a fresh
    /// array of that size would be new, page-faulting memory on every measured step. Allocation is counted on this
    /// thread over a warm call; 64 KiB leaves room for the measurement objects, a quarter of the results' size.</summary>
    [Fact]
    public void Measure_RepeatedWarmCalls_DoNotAllocateTheReadBackPerCall()
    {
        const int rows = 8192;
        using var weight = EngineHarness.GappedWeight(1, 16, 16, ScalarType.Float32, seed: 5);
        using var input = EngineHarness.OffsetRows(1, rows, 16, ScalarType.Float32, seed: 6);
        using var state = new SpectralState();
        using var engine = new SpectralEngine(EngineHarness.Options().ToEngineSettings());
        for (int step = 0; step < 3; step++)
            EngineHarness.Measure(engine, step, weight, input, state);

        long before = GC.GetAllocatedBytesForCurrentThread();
        var measured = EngineHarness.Measure(engine, 3, weight, input, state);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(rows, measured.Stats.Count);
        Assert.True(allocated < 64 * 1024, $"{allocated} bytes allocated by a warm measurement of {4 * rows * sizeof(double)} bytes of row results");
    }
}
