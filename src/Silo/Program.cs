using UNetCluster.Silo.Hosting;

UNetCluster.Data.Runtime.TorchRuntime.PreferPassiveOpenMp();   // before libtorch loads
var app = SiloApplication.Build(args);
await app.RunAsync().ConfigureAwait(false);
