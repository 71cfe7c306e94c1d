using UNetCluster.Data.DataSets;
using UNetCluster.Data.Imaging;

namespace UNetCluster.Client.Commands;

/// <summary>
/// Runs a verb's body and turns the errors a user can fix into one message and exit code 2, a cluster that does not
/// answer into exit code 3, and a cluster's failure to answer a request into exit code 1 (<see cref="Cli"/>).
/// </summary>
internal static class CommandRunner
{
    public static async Task<int> RunAsync(TextWriter error, Func<Task<int>> body)
    {
        try
        {
            return await body().ConfigureAwait(false);
        }
        catch (ClusterUnreachableException e)
        {
            await error.WriteLineAsync($"error: {e.Message}").ConfigureAwait(false);
            return Cli.Unreachable;
        }
        catch (ClusterRequestException e)
        {
            await error.WriteLineAsync($"error: {e.Message}").ConfigureAwait(false);
            return Cli.Failed;
        }
        catch (DataSetValidationException e)
        {
            await error.WriteLineAsync(e.Message).ConfigureAwait(false);
            return Cli.BadInput;
        }
        catch (Exception e) when (e is UserInputException or InvalidImageException or ArgumentException or DirectoryNotFoundException or FileNotFoundException or InvalidDataException)
        {
            await error.WriteLineAsync($"error: {WithoutParameterName(e)}").ConfigureAwait(false);
            return Cli.BadInput;
        }
    }

    /// <summary>An <see cref="ArgumentException"/>'s message without .NET's " (Parameter 'x')", which names code, not an option.</summary>
    private static string WithoutParameterName(Exception e)
    {
        var suffix = e is ArgumentException { ParamName: { } name } ? $" (Parameter '{name}')" : null;
        return suffix is not null && e.Message.EndsWith(suffix, StringComparison.Ordinal) ? e.Message[..^suffix.Length] : e.Message;
    }
}
