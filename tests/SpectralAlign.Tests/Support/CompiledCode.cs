using Mono.Cecil;
using Mono.Cecil.Cil;
using TorchSharp;

namespace SpectralAlign.Tests.Support;

/// <summary>Compiled assemblies read with Mono.Cecil, for tests that check rules about the code as compiled (every
/// operator, conversion, optional argument and lambda shows up as a call).</summary>
internal static class CompiledCode
{
    /// <summary>Reads an assembly; references to TorchSharp resolve to the TorchSharp the tests run with.</summary>
    public static AssemblyDefinition Read(string path)
    {
        var resolver = new DefaultAssemblyResolver();
        resolver.AddSearchDirectory(Path.GetDirectoryName(typeof(torch).Assembly.Location)!);
        return AssemblyDefinition.ReadAssembly(path, new ReaderParameters { AssemblyResolver = resolver });
    }

    /// <summary>The method an instruction calls, constructs with or takes the address of; <c>null</c> for others.</summary>
    public static MethodReference? Callee(Instruction instruction) =>
        (instruction.OpCode == OpCodes.Call || instruction.OpCode == OpCodes.Callvirt || instruction.OpCode == OpCodes.Newobj || instruction.OpCode == OpCodes.Ldftn)
            ? instruction.Operand as MethodReference
            : null;

    /// <summary>Whether a method belongs to TorchSharp's assembly.</summary>
    public static bool IsTorchSharp(MemberReference member) =>
        member.DeclaringType.Scope.Name is "TorchSharp" or "TorchSharp.dll";

    /// <summary>The compiled sample method <paramref name="method"/> of <paramref name="sample"/> (a class nested in the
    /// test class <paramref name="testClass"/>) and the lambdas the compiler generated for it; fails the test when
    /// there is none.</summary>
    public static List<MethodDefinition> Sample(Type testClass, Type sample, string method)
    {
        var tests = Read(testClass.Assembly.Location);
        var type = tests.MainModule.GetType(testClass.FullName).NestedTypes.Single(t => t.Name == sample.Name);
        var found = type.NestedTypes.Prepend(type).SelectMany(t => t.Methods)
            .Where(m => m.Name == method || m.Name.StartsWith($"<{method}>", StringComparison.Ordinal))
            .ToList();
        Xunit.Assert.NotEmpty(found);
        return found;
    }

    /// <summary>The full names of TorchSharp's methods (those <paramref name="include"/> accepts) that make a call
    /// <paramref name="seed"/> recognises, closed over their callers within TorchSharp: every TorchSharp method that
    /// reaches such a call through TorchSharp's own code. A virtual call may run any override, so a method reaches
    /// what its overrides reach (e.g. <c>OptimizerHelper.save_state_dict</c> through each optimizer state's
    /// <c>SaveStateDict</c> override).</summary>
    public static HashSet<string> TorchSharpMethodsReaching(Func<MethodDefinition, bool> include, Func<MethodReference, bool> seed)
    {
        var torchSharp = Read(typeof(torch).Assembly.Location).MainModule;
        var callers = new Dictionary<string, List<string>>();
        var result = new HashSet<string>();
        foreach (var method in torchSharp.GetTypes().SelectMany(t => t.Methods).Where(m => m.HasBody && include(m)))
        {
            foreach (var instruction in method.Body.Instructions)
            {
                if (Callee(instruction) is not { } callee)
                    continue;
                if (seed(callee))
                    result.Add(method.FullName);
                else if (IsTorchSharp(callee) && callee.Resolve() is { } target)
                    (callers.TryGetValue(target.FullName, out var list) ? list : callers[target.FullName] = []).Add(method.FullName);
            }
        }

        // An override "calls" the method it overrides: whoever calls the base may run the override.
        foreach (var method in torchSharp.GetTypes().SelectMany(t => t.Methods).Where(m => m.IsVirtual && !m.IsNewSlot))
        {
            if (Overridden(method) is { } overridden)
                (callers.TryGetValue(method.FullName, out var list) ? list : callers[method.FullName] = []).Add(overridden.FullName);
        }

        var pending = new Queue<string>(result);
        while (pending.TryDequeue(out var method))
        {
            foreach (var caller in callers.GetValueOrDefault(method, []))
            {
                if (result.Add(caller))
                    pending.Enqueue(caller);
            }
        }

        return result;
    }

    /// <summary>The nearest base-class method <paramref name="method"/> overrides (same name and parameter types), or
    /// <c>null</c>.</summary>
    private static MethodDefinition? Overridden(MethodDefinition method)
    {
        for (var type = method.DeclaringType.BaseType?.Resolve(); type is not null; type = type.BaseType?.Resolve())
        {
            var match = type.Methods.FirstOrDefault(m => m.IsVirtual && m.Name == method.Name && m.Parameters.Count == method.Parameters.Count
                && m.Parameters.Select(p => p.ParameterType.FullName).SequenceEqual(method.Parameters.Select(p => p.ParameterType.FullName)));
            if (match is not null)
                return match;
        }

        return null;
    }

    /// <summary>Every type a type's compiled code names: base type, interfaces, fields, method signatures, locals and
    /// the operands of its instructions (calls, field accesses, type tokens), with generic arguments and element
    /// types unwrapped; compiler-generated nested types (lambdas, iterators) count as part of their declaring type.</summary>
    public static IEnumerable<TypeReference> TypesNamedBy(TypeDefinition type)
    {
        var named = new List<TypeReference>();
        foreach (var t in type.NestedTypes.Prepend(type))
        {
            if (t != type)
                named.AddRange(TypesNamedBy(t));
            if (t.BaseType is not null)
                named.Add(t.BaseType);
            named.AddRange(t.Interfaces.Select(i => i.InterfaceType));
            named.AddRange(t.Fields.Select(f => f.FieldType));
            foreach (var method in t.Methods)
            {
                named.Add(method.ReturnType);
                named.AddRange(method.Parameters.Select(p => p.ParameterType));
                if (!method.HasBody)
                    continue;
                named.AddRange(method.Body.Variables.Select(v => v.VariableType));
                foreach (var instruction in method.Body.Instructions)
                {
                    switch (instruction.Operand)
                    {
                        case MethodReference m:
                            named.Add(m.DeclaringType);
                            named.Add(m.ReturnType);
                            named.AddRange(m.Parameters.Select(p => p.ParameterType));
                            if (m is GenericInstanceMethod g)
                                named.AddRange(g.GenericArguments);
                            break;
                        case FieldReference f:
                            named.Add(f.DeclaringType);
                            named.Add(f.FieldType);
                            break;
                        case TypeReference r:
                            named.Add(r);
                            break;
                    }
                }
            }
        }

        return named.SelectMany(Unwrap);
    }

    private static IEnumerable<TypeReference> Unwrap(TypeReference type)
    {
        switch (type)
        {
            case GenericInstanceType generic:
                yield return generic.ElementType;
                foreach (var argument in generic.GenericArguments.SelectMany(Unwrap))
                    yield return argument;
                break;
            case TypeSpecification specification:   // arrays, by-refs, pointers, modifiers
                foreach (var element in Unwrap(specification.ElementType))
                    yield return element;
                break;
            case GenericParameter:
                break;
            default:
                yield return type;
                break;
        }
    }
}
