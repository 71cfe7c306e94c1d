namespace UNetCluster.Client.Commands;

/// <summary>A bad option or input, reported to the user as one clear message with exit code 2.</summary>
public sealed class UserInputException : Exception
{
    public UserInputException(string message) : base(message)
    {
    }

    public UserInputException(string message, Exception innerException) : base(message, innerException)
    {
    }

    public UserInputException()
    {
    }
}
