// TorchSharp tests share native state (threads, RNG) and the test cluster is started once: one sequential collection.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
