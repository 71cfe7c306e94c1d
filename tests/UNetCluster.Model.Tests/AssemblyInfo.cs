// TorchSharp tests share native state (threads, default dtype, RNG): run them in one sequential collection.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
