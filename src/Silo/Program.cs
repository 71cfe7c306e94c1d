using UNetCluster.Silo.Hosting;

UNetCluster.Data.Runtime.TorchRuntime.PreferPassiveOpenMp();   // before libtorch loads
var builder = Host.CreateApplicationBuilder(args);
builder.AddUNetSilo();
await builder.Build().RunAsync().ConfigureAwait(false);
