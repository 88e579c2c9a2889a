using Mono.Cecil;
using Mono.Cecil.Cil;
using SpectralAlign.Report;
using SpectralAlign.Spectral;
using SpectralAlign.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace SpectralAlign.Tests.Spectral;

/// <summary>
/// Library code copies tensor data to the host only through <see cref="DeviceTransfer"/>, so its counter (which
/// <see cref="ReadbackTests"/> holds to one transfer per measured step) sees every copy. Checked on the compiled
/// assemblies, so every form counts: operators, conversions, extension methods, lambdas.
/// </summary>
public sealed class HostCopyTests
{
    /// <summary>Calls accepted outside <see cref="DeviceTransfer"/>, each with its reason: (calling method, callee).</summary>
    private static readonly (string Method, string Callee)[] Accepted =
    [
        // The histogram tensor is built on the host from the measurement's bins (already host numbers); TorchSharp's
        // only add_histogram reads it there. No device data is read.
        ("SpectralAlign.Telemetry.TensorBoardSink::Write", "SummaryWriter.add_histogram"),
        // HostMemory reads contiguous CPU tensors where they are (TorchSharp's bytes of such a tensor is a span over its
        // storage) and refuses every other tensor before touching bytes: CPU memory is host memory, nothing is copied
        // or transferred (HostMemoryTests holds it to that).
        ("SpectralAlign.Spectral.HostMemory::Span", "Tensor.get_bytes"),
    ];

    [Fact]
    public void LibraryAssemblies_CopyToTheHostOnlyThroughDeviceTransfer()
    {
        var offences = LibraryMethods()
            .Where(m => !m.DeclaringType.FullName.StartsWith(typeof(DeviceTransfer).FullName!, StringComparison.Ordinal))
            .SelectMany(HostCopyRule.Offences)
            .Where(o => !Accepted.Contains((o.Method, o.Callee)))
            .ToList();
        Assert.True(offences.Count == 0, "Host copies outside DeviceTransfer (go through DeviceTransfer, which counts them):" + Environment.NewLine + string.Join(Environment.NewLine, offences.Select(o => o.Text)));
    }

    /// <summary>The rule is not vacuous: it finds every copy DeviceTransfer itself makes, in the compiled library.</summary>
    [Fact]
    public void HostCopyRule_DeviceTransfer_ItsOwnCopiesAreFound()
    {
        var found = LibraryMethods()
            .Where(m => m.DeclaringType.FullName == typeof(DeviceTransfer).FullName)
            .SelectMany(HostCopyRule.Offences)
            .Select(o => (o.Method, o.Callee))
            .ToHashSet();
        string type = typeof(DeviceTransfer).FullName!;
        (string, string)[] expected = [($"{type}::ToHost", "Tensor.cpu"), ($"{type}::Item", "Tensor.item"), ($"{type}::Values", "Tensor.cpu"), ($"{type}::Values", "Tensor.data"), ($"{type}::CopyTo", "Tensor.cpu"), ($"{type}::CopyTo", "Tensor.data"), ($"{type}::SaveOptimizerState", "OptimizerHelper.save_state_dict")];
        Assert.True(found.SetEquals(expected), "found: " + string.Join("; ", found));
    }

    [Theory]
    [InlineData(nameof(HostCopies.Cpu))]
    [InlineData(nameof(HostCopies.Data))]
    [InlineData(nameof(HostCopies.DataToArray))]
    [InlineData(nameof(HostCopies.Item))]
    [InlineData(nameof(HostCopies.TensorToDouble))]
    [InlineData(nameof(HostCopies.TensorToSingle))]
    [InlineData(nameof(HostCopies.TensorToInt64))]
    [InlineData(nameof(HostCopies.TensorToBoolean))]
    [InlineData(nameof(HostCopies.ExplicitFloat))]
    [InlineData(nameof(HostCopies.TensorToScalar))]
    [InlineData(nameof(HostCopies.Bytes))]
    [InlineData(nameof(HostCopies.ToStringWithValues))]
    [InlineData(nameof(HostCopies.ToTorchCpu))]
    [InlineData(nameof(HostCopies.ToDeviceTypeCpu))]
    [InlineData(nameof(HostCopies.ToCpuString))]
    [InlineData(nameof(HostCopies.ToDtypeOnCpu))]
    [InlineData(nameof(HostCopies.ToCpuDeviceMadeHere))]
    [InlineData(nameof(HostCopies.ModuleToCpu))]
    [InlineData(nameof(HostCopies.InLambda))]
    [InlineData(nameof(HostCopies.ThroughVirtualCall))]
    public void HostCopyRule_HostCopy_IsReported(string method) =>
        Assert.NotEmpty(Sample(typeof(HostCopies), method).SelectMany(HostCopyRule.Offences));

    [Theory]
    [InlineData(nameof(NoHostCopies.ToDtype))]
    [InlineData(nameof(NoHostCopies.ToDeviceOfVariable))]
    [InlineData(nameof(NoHostCopies.ToDeviceOfOtherTensor))]
    [InlineData(nameof(NoHostCopies.ToDeviceTypeCuda))]
    [InlineData(nameof(NoHostCopies.ToCudaString))]
    [InlineData(nameof(NoHostCopies.DeviceArithmetic))]
    [InlineData(nameof(NoHostCopies.Shape))]
    [InlineData(nameof(NoHostCopies.ThroughDeviceTransfer))]
    public void HostCopyRule_NoHostCopy_IsNotReported(string method) =>
        Assert.Empty(Sample(typeof(NoHostCopies), method).SelectMany(HostCopyRule.Offences));

    /// <summary>Every method of the library's assemblies (the report tool's too), with compiler-generated ones.</summary>
    private static IEnumerable<MethodDefinition> LibraryMethods() =>
        new[] { typeof(SpectralEngine).Assembly.Location, typeof(ReportCommand).Assembly.Location }
            .Select(CompiledCode.Read)
            .SelectMany(a => a.MainModule.GetTypes())
            .SelectMany(t => t.Methods);

    private static List<MethodDefinition> Sample(Type type, string method) => CompiledCode.Sample(typeof(HostCopyTests), type, method);

    /// <summary>Forms that copy tensor data to the host.</summary>
    private static class HostCopies
    {
        public static Tensor Cpu(Tensor a) => a.cpu();

        public static float Data(Tensor a) => a.data<float>()[0];

        public static float[] DataToArray(Tensor a) => a.data<float>().ToArray();

        public static float Item(Tensor a) => a.item<float>();

        public static double TensorToDouble(Tensor a) => a.ToDouble();

        public static float TensorToSingle(Tensor a) => a.ToSingle();

        public static long TensorToInt64(Tensor a) => a.ToInt64();

        public static bool TensorToBoolean(Tensor a) => a.ToBoolean();

        public static float ExplicitFloat(Tensor a) => (float)a;

        public static Scalar TensorToScalar(Tensor a) => a.ToScalar();

        public static int Bytes(Tensor a) => a.bytes.Length;

        public static string ToStringWithValues(Tensor a) => a.str();

        public static Tensor ToTorchCpu(Tensor a) => a.to(CPU);

        public static Tensor ToDeviceTypeCpu(Tensor a) => a.to(DeviceType.CPU);

        public static Tensor ToCpuString(Tensor a) => a.to("cpu");

        public static Tensor ToDtypeOnCpu(Tensor a) => a.to(ScalarType.Float64, CPU);

        public static Tensor ToCpuDeviceMadeHere(Tensor a) => a.to(device("cpu"));

        public static nn.Module ModuleToCpu(nn.Module m) => m.cpu();

        public static Func<Tensor, double> InLambda() => t => t.item<double>();

        /// <summary>The copy is in each optimizer state's override of a virtual method save_state_dict calls.</summary>
        public static void ThroughVirtualCall(TorchSharp.Modules.OptimizerHelper optimizer, BinaryWriter writer) => optimizer.save_state_dict(writer);
    }

    /// <summary>Forms that keep the data where it is (or copy it through <see cref="DeviceTransfer"/>).</summary>
    private static class NoHostCopies
    {
        public static Tensor ToDtype(Tensor a) => a.to(ScalarType.Float64);

        public static Tensor ToDeviceOfVariable(Tensor a, Device target) => a.to(target);

        public static Tensor ToDeviceOfOtherTensor(Tensor a, Tensor b) => a.to(b.device);

        public static Tensor ToDeviceTypeCuda(Tensor a) => a.to(DeviceType.CUDA);

        public static Tensor ToCudaString(Tensor a) => a.to("cuda:0");

        public static Tensor DeviceArithmetic(Tensor a, Tensor b) => a.matmul(b).clone();

        public static long Shape(Tensor a) => a.shape[0] * a.numel();

        public static double ThroughDeviceTransfer(Tensor a) => DeviceTransfer.Number(a);
    }

    /// <summary>
    /// The rule, on compiled code (Mono.Cecil): a method copies tensor data to the host when it calls a TorchSharp
    /// member that reads tensor data on the host — computed from TorchSharp's own assembly as every method that calls
    /// the native copy or read (<c>THSTensor_cpu</c>, <c>THSTensor_item</c>, <c>THSTensor_data</c>), closed over
    /// their callers within TorchSharp (in 0.107: <c>cpu()</c>, <c>data&lt;T&gt;()</c>, <c>item&lt;T&gt;()</c>,
    /// <c>ToScalar()</c>, <c>ToDouble()</c> and the other conversions, the explicit operators, <c>bytes</c>,
    /// <c>ToString</c>/<c>str</c>/<c>print</c> with values, <c>save</c>, histograms …), so a TorchSharp upgrade
    /// updates it — or when it moves a tensor or module to a CPU device named in the call (<c>to(CPU)</c>,
    /// <c>to(DeviceType.CPU)</c>, <c>to("cpu")</c>, <c>to(ScalarType, CPU)</c>, <c>cpu()</c>). A move to a device
    /// only known at run time (another tensor's) is not a host copy by itself.
    /// </summary>
    private static class HostCopyRule
    {
        private static readonly string[] NativeReads = ["THSTensor_cpu", "THSTensor_item", "THSTensor_data"];

        /// <summary>TorchSharp members that call <c>THSTensor_data</c> to write host data into a tensor.</summary>
        private static readonly string[] Writes = ["set_bytes", "ReadBytesFromStream"];

        private static readonly Lazy<HashSet<string>> s_readsOnHost = new(ReadsOnHost);

        public static IEnumerable<(string Method, string Callee, string Text)> Offences(MethodDefinition method)
        {
            if (!method.HasBody)
                yield break;
            string where = $"{method.DeclaringType.FullName}::{method.Name}";
            foreach (var instruction in method.Body.Instructions)
            {
                if (CompiledCode.Callee(instruction) is not { } callee || !CompiledCode.IsTorchSharp(callee) || callee.Resolve() is not { } target)
                    continue;
                string name = $"{target.DeclaringType.Name}.{target.Name}";
                string text = $"{where} (IL_{instruction.Offset:x4}): {name}({string.Join(", ", target.Parameters.Select(p => p.ParameterType.Name))})";
                if (target.Name == "cpu" || s_readsOnHost.Value.Contains(target.FullName))
                    yield return (where, name, text + " copies tensor data to the host");
                else if (target.Name == "to" && MovesToCpu(callee, instruction))
                    yield return (where, name, text + " moves to the CPU");
            }
        }

        /// <summary>Whether a <c>to(…)</c> call's device argument is the CPU, named in the call.</summary>
        private static bool MovesToCpu(MethodReference callee, Instruction call)
        {
            for (int p = 0; p < callee.Parameters.Count; p++)
            {
                if (callee.Parameters[p].ParameterType.FullName is "TorchSharp.torch/Device" or "TorchSharp.DeviceType" or "System.String"
                    && Producer(call, p) is { } producer && IsCpu(producer))
                {
                    return true;
                }
            }

            return false;
        }

        /// <summary>Whether an instruction pushes the CPU device: <c>torch.CPU</c>, <c>DeviceType.CPU</c>, a
        /// "cpu…" string, or a device made from one.</summary>
        private static bool IsCpu(Instruction producer)
        {
            switch (producer.OpCode.Code)
            {
                case Code.Ldsfld:
                    return producer.Operand is FieldReference { Name: "CPU" } field && CompiledCode.IsTorchSharp(field);
                case Code.Ldstr:
                    return ((string)producer.Operand).StartsWith("cpu", StringComparison.OrdinalIgnoreCase);
                case Code.Ldc_I4_0:   // DeviceType.CPU
                    return true;
                case Code.Call or Code.Newobj:
                    var made = (MethodReference)producer.Operand;
                    return CompiledCode.IsTorchSharp(made) && made.DeclaringType.FullName is "TorchSharp.torch" or "TorchSharp.torch/Device"
                        && made.Parameters.Count > 0 && made.Parameters[0].ParameterType.FullName is "TorchSharp.DeviceType" or "System.String"
                        && Producer(producer, 0) is { } inner && IsCpu(inner);
                default:
                    return false;
            }
        }

        /// <summary>The instruction that pushed argument <paramref name="parameter"/> of a call, found by walking back
        /// over straight-line code; <c>null</c> where control flow joins or the stack effect is unknown.</summary>
        private static Instruction? Producer(Instruction call, int parameter)
        {
            var callee = (MethodReference)call.Operand;
            bool self = callee.HasThis && call.OpCode.Code != Code.Newobj;
            int arguments = callee.Parameters.Count + (self ? 1 : 0);
            int slot = arguments - 1 - (parameter + (self ? 1 : 0));   // its depth below the top of the stack at the call
            for (var i = call.Previous; i is not null; i = i.Previous)
            {
                if (i.OpCode.FlowControl is FlowControl.Branch or FlowControl.Cond_Branch or FlowControl.Return or FlowControl.Throw)
                    return null;
                int pushes = Pushes(i), pops = Pops(i);
                if (pops < 0)
                    return null;
                if (slot < pushes)
                {
                    if (i.OpCode.Code != Code.Dup)
                        return i;
                    slot = 0;
                    continue;
                }

                slot += pops - pushes;
            }

            return null;
        }

        private static int Pushes(Instruction i) => i.OpCode.StackBehaviourPush switch
        {
            StackBehaviour.Push0 => 0,
            StackBehaviour.Push1_push1 => 2,
            StackBehaviour.Varpush => i.Operand is MethodReference m && m.ReturnType.MetadataType != MetadataType.Void ? 1 : 0,
            _ => 1,
        };

        private static int Pops(Instruction i) => i.OpCode.StackBehaviourPop switch
        {
            StackBehaviour.Pop0 => 0,
            StackBehaviour.Pop1 or StackBehaviour.Popi or StackBehaviour.Popref => 1,
            StackBehaviour.Pop1_pop1 or StackBehaviour.Popi_pop1 or StackBehaviour.Popi_popi or StackBehaviour.Popi_popi8 or StackBehaviour.Popi_popr4
                or StackBehaviour.Popi_popr8 or StackBehaviour.Popref_pop1 or StackBehaviour.Popref_popi => 2,
            StackBehaviour.Popi_popi_popi or StackBehaviour.Popref_popi_popi or StackBehaviour.Popref_popi_popi8 or StackBehaviour.Popref_popi_popr4
                or StackBehaviour.Popref_popi_popr8 or StackBehaviour.Popref_popi_popref => 3,
            StackBehaviour.Varpop when i.Operand is MethodReference m => m.Parameters.Count + (m.HasThis && i.OpCode.Code != Code.Newobj ? 1 : 0),
            _ => -1,
        };

        /// <summary>The full names of TorchSharp's methods that read tensor data on the host: the callers of the
        /// native reads, closed over their callers within TorchSharp.</summary>
        private static HashSet<string> ReadsOnHost()
        {
            var result = CompiledCode.TorchSharpMethodsReaching(m => !Writes.Contains(m.Name), callee => NativeReads.Contains(callee.Name));
            Assert.Contains(result, m => m.EndsWith("Tensor::cpu()", StringComparison.Ordinal));   // the native names still exist
            return result;
        }
    }
}
