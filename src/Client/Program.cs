using UNetCluster.Client;

return await Cli.RunAsync(args, Console.Out, Console.Error, CancellationToken.None).ConfigureAwait(false);
