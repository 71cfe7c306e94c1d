namespace UNetCluster.Client.Commands;

/// <summary>The cluster (its gateway, Redis membership or REST API) does not answer: exit code 3, one message.</summary>
public sealed class ClusterUnreachableException : Exception
{
    public ClusterUnreachableException(string message) : base(message)
    {
    }

    public ClusterUnreachableException(string message, Exception innerException) : base(message, innerException)
    {
    }

    public ClusterUnreachableException()
    {
    }
}

/// <summary>The cluster answered a request with a failure of its own (a 5xx, a body that is not the API's): exit code 1, one message.</summary>
public sealed class ClusterRequestException : Exception
{
    public ClusterRequestException(string message) : base(message)
    {
    }

    public ClusterRequestException(string message, Exception innerException) : base(message, innerException)
    {
    }

    public ClusterRequestException()
    {
    }
}
