// The local cluster run starts Redis, Azurite and silo processes: the tests run one after another.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
