// One silo process serves every test of the run: the tests run one after another.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
