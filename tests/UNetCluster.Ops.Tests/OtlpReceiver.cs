using System.Collections.Concurrent;
using System.Net;
using System.Text;

namespace UNetCluster.Ops.Tests;

/// <summary>
/// A minimal OTLP/HTTP (protobuf) receiver on loopback: keeps what the silo exports to <c>/v1/traces</c> and
/// <c>/v1/metrics</c>, and reads spans out of the trace requests with a small protobuf reader (no generated code).
/// </summary>
public sealed class OtlpReceiver : IDisposable
{
    private readonly HttpListener _listener = new();
    private readonly ConcurrentQueue<(string Path, byte[] Body)> _requests = new();
    private readonly Task _loop;

    public OtlpReceiver(int port)
    {
        Endpoint = $"http://127.0.0.1:{port}";
        _listener.Prefixes.Add(Endpoint + "/");
        _listener.Start();
        _loop = Task.Run(ServeAsync);
    }

    public string Endpoint { get; }

    public IReadOnlyList<byte[]> Bodies(string path) => _requests.Where(r => r.Path == path).Select(r => r.Body).ToList();

    /// <summary>Every span received so far.</summary>
    public IReadOnlyList<Span> Spans() => Bodies("/v1/traces").SelectMany(ParseTraces).ToList();

    public void Dispose()
    {
        _listener.Stop();
        _listener.Close();
        try
        {
            _loop.Wait(TimeSpan.FromSeconds(5));
        }
        catch (AggregateException)
        {
            // The listener was closed under a pending GetContextAsync.
        }
    }

    private async Task ServeAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync().ConfigureAwait(false);
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }

            using var body = new MemoryStream();
            await context.Request.InputStream.CopyToAsync(body).ConfigureAwait(false);
            _requests.Enqueue((context.Request.Url!.AbsolutePath, body.ToArray()));
            context.Response.StatusCode = 200;
            context.Response.ContentType = "application/x-protobuf";
            context.Response.Close();
        }
    }

    public sealed record Span(string TraceId, string SpanId, string ParentSpanId, string Name);

    // ExportTraceServiceRequest: 1 = ResourceSpans; ResourceSpans: 2 = ScopeSpans; ScopeSpans: 2 = Span;
    // Span: 1 = trace_id, 2 = span_id, 4 = parent_span_id, 5 = name (opentelemetry/proto/trace/v1/trace.proto).
    private static IEnumerable<Span> ParseTraces(byte[] request)
    {
        foreach (var resourceSpans in Fields(request, 1))
        {
            foreach (var scopeSpans in Fields(resourceSpans, 2))
            {
                foreach (var span in Fields(scopeSpans, 2))
                {
                    yield return new Span(
                        Convert.ToHexString(Fields(span, 1).FirstOrDefault() ?? []),
                        Convert.ToHexString(Fields(span, 2).FirstOrDefault() ?? []),
                        Convert.ToHexString(Fields(span, 4).FirstOrDefault() ?? []),
                        Encoding.UTF8.GetString(Fields(span, 5).FirstOrDefault() ?? []));
                }
            }
        }
    }

    /// <summary>The length-delimited fields numbered <paramref name="number"/> of a protobuf message.</summary>
    private static List<byte[]> Fields(byte[] message, int number)
    {
        var found = new List<byte[]>();
        var position = 0;
        while (position < message.Length)
        {
            var key = Varint(message, ref position);
            var field = (int)(key >> 3);
            switch ((int)(key & 7))
            {
                case 0:
                    Varint(message, ref position);
                    break;
                case 1:
                    position += 8;
                    break;
                case 2:
                    var length = (int)Varint(message, ref position);
                    if (field == number)
                    {
                        found.Add(message[position..(position + length)]);
                    }

                    position += length;
                    break;
                case 5:
                    position += 4;
                    break;
                default:
                    throw new InvalidDataException($"protobuf wire type {key & 7} at byte {position}");
            }
        }

        return found;
    }

    private static ulong Varint(byte[] buffer, ref int position)
    {
        ulong value = 0;
        for (var shift = 0; ; shift += 7)
        {
            var b = buffer[position++];
            value |= (ulong)(b & 0x7f) << shift;
            if (b < 0x80)
            {
                return value;
            }
        }
    }
}
