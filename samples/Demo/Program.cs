// The main demo: the same exploding training run twice — unguarded (the loss explodes) and with a TrainingGuard (it
// finishes) — printing each intervention as it happens and the final losses side by side.
//
//   dotnet run --project samples/Demo -c Release [-- --seed 17] [--threads 2]
//
// The detector demo (six detectors side by side on an exploding LM; README, "Does it warn?"):
//
//   dotnet run --project samples/Demo -c Release -- --detectors [--seed 3] [--threads 2] [--run-log PATH]
var options = DemoOptions.Parse(args);
return options.Detectors ? DetectorDemo.Run(options) : GuardDemo.Run(options);
