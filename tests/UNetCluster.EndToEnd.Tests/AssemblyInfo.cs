// One Redis server and one set of silo processes per test run: the tests run one after another.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
