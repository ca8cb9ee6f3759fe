import * as grpc from '@grpc/grpc-js';

/**
 * Typed calls over a generic grpc-js Client: the method definitions from proto.ts carry the
 * serializers, so no generated client classes (and no untyped method lookups) are needed.
 */

/** A grpc-js target for a unix socket path. */
export function unixTarget(socketPath: string): string {
  return `unix:${socketPath}`;
}

export function unixClient(socketPath: string): grpc.Client {
  return new grpc.Client(unixTarget(socketPath), grpc.credentials.createInsecure(), {
    // The kubelet's sockets are local: never wait long between reconnect attempts.
    'grpc.initial_reconnect_backoff_ms': 100,
    'grpc.max_reconnect_backoff_ms': 1000,
  });
}

export function unary<Req, Res>(
  client: grpc.Client,
  method: grpc.MethodDefinition<Req, Res>,
  request: Req,
  timeoutMs: number,
): Promise<Res> {
  return new Promise((resolve, reject) => {
    client.makeUnaryRequest(
      method.path,
      method.requestSerialize,
      method.responseDeserialize,
      request,
      new grpc.Metadata(),
      { deadline: Date.now() + timeoutMs },
      (err, res) => {
        if (err) reject(err);
        else if (res === undefined) reject(new Error(`${method.path}: empty response`));
        else resolve(res);
      },
    );
  });
}

export function serverStream<Req, Res>(
  client: grpc.Client,
  method: grpc.MethodDefinition<Req, Res>,
  request: Req,
): grpc.ClientReadableStream<Res> {
  return client.makeServerStreamRequest(
    method.path,
    method.requestSerialize,
    method.responseDeserialize,
    request,
    new grpc.Metadata(),
  );
}

/** The gRPC status code of an error from a call, if it has one. */
export function grpcCode(err: unknown): grpc.status | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'number') {
    return err.code;
  }
  return undefined;
}
