// TorchSharp tests share native state (threads, default dtype, RNG): run them in one sequential collection.
[assembly: CollectionBehavior(DisableTestParallelization = true)]

// One Azurite blob service for the assembly's Blob tests (tests/Shared/AzuriteFixture.cs).
[assembly: AssemblyFixture(typeof(UNetCluster.Tests.Common.AzuriteFixture))]
