using UNetCluster.Silo.Hosting;

var builder = Host.CreateApplicationBuilder(args);
builder.AddUNetSilo();
await builder.Build().RunAsync().ConfigureAwait(false);
