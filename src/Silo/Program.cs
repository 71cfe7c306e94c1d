using UNetCluster.Silo.Hosting;

UNetCluster.Data.Runtime.TorchRuntime.PreferPassiveOpenMp();   // before libtorch loads
var builder = Microsoft.AspNetCore.Builder.WebApplication.CreateBuilder(args);
builder.AddUNetSilo().AddUNetTelemetry("unetcluster-silo").AddUNetHttp();
var app = builder.Build();
app.MapUNetOperations();
await app.RunAsync().ConfigureAwait(false);
