using UNetCluster.Client;

UNetCluster.Data.Runtime.TorchRuntime.PreferPassiveOpenMp();   // before libtorch loads
return await Cli.RunAsync(args, Console.Out, Console.Error, CancellationToken.None).ConfigureAwait(false);
