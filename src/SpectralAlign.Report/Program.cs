namespace SpectralAlign.Report;

/// <summary>Entry point of the <c>spectralalign-report</c> command.</summary>
internal static class Program
{
    private static int Main(string[] args) => ReportCommand.Run(args, Console.Out, Console.Error);
}
