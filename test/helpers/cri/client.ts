import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

/**
 * A CRI v1 client (kubernetes/cri-api, vendored in ./api.proto) over a runtime's unix
 * socket: the calls kubelet makes, made by the test. Messages are plain objects with the
 * .proto field names (keepCase), enums as their names, int64 as numbers.
 */

type Msg = Record<string, unknown>;
type Unary = (
  req: Msg,
  md: grpc.Metadata,
  opts: grpc.CallOptions,
  cb: grpc.requestCallback<Msg>,
) => void;

const PROTO = path.join(import.meta.dirname, 'api.proto');

let loaded: grpc.GrpcObject | null = null;
function runtimeV1(): grpc.GrpcObject {
  if (!loaded) {
    const def = protoLoader.loadSync(PROTO, {
      keepCase: true,
      longs: Number,
      enums: String,
      defaults: true,
      oneofs: true,
    });
    const root = grpc.loadPackageDefinition(def) as unknown as {
      runtime: { v1: grpc.GrpcObject };
    };
    loaded = root.runtime.v1;
  }
  return loaded;
}

/** One call made through the client: method and how long it took (the test reports them). */
export interface CriCall {
  method: string;
  ms: number;
  error?: string;
}

export class CriClient {
  readonly calls: CriCall[] = [];
  private readonly runtime: grpc.Client;
  private readonly images: grpc.Client;

  constructor(socket: string) {
    const v1 = runtimeV1();
    const Runtime = v1.RuntimeService as grpc.ServiceClientConstructor;
    const Image = v1.ImageService as grpc.ServiceClientConstructor;
    const target = `unix://${socket}`;
    const creds = grpc.credentials.createInsecure();
    const opts = { 'grpc.max_receive_message_length': 16 * 1024 * 1024 };
    this.runtime = new Runtime(target, creds, opts);
    this.images = new Image(target, creds, opts);
  }

  close(): void {
    this.runtime.close();
    this.images.close();
  }

  private call(client: grpc.Client, method: string, req: Msg, timeoutMs: number): Promise<Msg> {
    const fn = (client as unknown as Record<string, Unary>)[method];
    if (typeof fn !== 'function') throw new Error(`CRI: no method ${method}`);
    const start = Date.now();
    return new Promise((resolve, reject) => {
      fn.call(
        client,
        req,
        new grpc.Metadata(),
        { deadline: Date.now() + timeoutMs },
        (err: grpc.ServiceError | null, res?: Msg) => {
          const rec: CriCall = { method, ms: Date.now() - start };
          if (err) rec.error = err.details || err.message;
          this.calls.push(rec);
          if (err) reject(new Error(`CRI ${method}: ${err.details || err.message}`));
          else resolve(res ?? {});
        },
      );
    });
  }

  version(): Promise<Msg> {
    return this.call(this.runtime, 'Version', { version: 'v1' }, 10_000);
  }

  status(): Promise<Msg> {
    return this.call(this.runtime, 'Status', { verbose: false }, 10_000);
  }

  async runPodSandbox(config: Msg, runtimeHandler = ''): Promise<string> {
    const r = await this.call(
      this.runtime,
      'RunPodSandbox',
      { config, runtime_handler: runtimeHandler },
      120_000,
    );
    return r.pod_sandbox_id as string;
  }

  async podSandboxStatus(id: string): Promise<Msg> {
    const r = await this.call(this.runtime, 'PodSandboxStatus', { pod_sandbox_id: id }, 10_000);
    return r.status as Msg;
  }

  async stopPodSandbox(id: string): Promise<void> {
    await this.call(this.runtime, 'StopPodSandbox', { pod_sandbox_id: id }, 120_000);
  }

  async removePodSandbox(id: string): Promise<void> {
    await this.call(this.runtime, 'RemovePodSandbox', { pod_sandbox_id: id }, 120_000);
  }

  async listPodSandbox(): Promise<Msg[]> {
    const r = await this.call(this.runtime, 'ListPodSandbox', {}, 10_000);
    return (r.items as Msg[] | undefined) ?? [];
  }

  async createContainer(podId: string, config: Msg, sandboxConfig: Msg): Promise<string> {
    const r = await this.call(
      this.runtime,
      'CreateContainer',
      { pod_sandbox_id: podId, config, sandbox_config: sandboxConfig },
      60_000,
    );
    return r.container_id as string;
  }

  async startContainer(id: string): Promise<void> {
    await this.call(this.runtime, 'StartContainer', { container_id: id }, 60_000);
  }

  async containerStatus(id: string): Promise<Msg> {
    const r = await this.call(this.runtime, 'ContainerStatus', { container_id: id }, 10_000);
    return r.status as Msg;
  }

  async stopContainer(id: string, timeoutS = 10): Promise<void> {
    await this.call(
      this.runtime,
      'StopContainer',
      { container_id: id, timeout: timeoutS },
      (timeoutS + 30) * 1000,
    );
  }

  async removeContainer(id: string): Promise<void> {
    await this.call(this.runtime, 'RemoveContainer', { container_id: id }, 30_000);
  }

  /** ExecSync: argv in the container, its exit code and output. */
  async execSync(
    id: string,
    cmd: string[],
    timeoutS = 20,
  ): Promise<{ exitCode: number; stdout: string; stderr: string }> {
    const r = await this.call(
      this.runtime,
      'ExecSync',
      { container_id: id, cmd, timeout: timeoutS },
      (timeoutS + 10) * 1000,
    );
    return {
      exitCode: r.exit_code as number,
      stdout: Buffer.from(r.stdout as Uint8Array).toString('utf8'),
      stderr: Buffer.from(r.stderr as Uint8Array).toString('utf8'),
    };
  }

  async imageStatus(image: string): Promise<Msg | null> {
    const r = await this.call(this.images, 'ImageStatus', { image: { image } }, 10_000);
    return (r.image as Msg | null) ?? null;
  }
}
