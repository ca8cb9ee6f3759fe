import { unary, unixClient } from '../../src/deviceplugin/grpc-client.js';
import { kubeletApis } from '../../src/deviceplugin/proto.js';

/**
 * The kubelet's side of the Allocate benchmark, in its own process as the real kubelet is:
 * `allocate-client.ts <socket> <id,id,…> <calls>` prints `{"ms":[…]}` (one entry per call,
 * after a warm-up), each call allocating one device for one container.
 */
const [socket, idList, callsArg] = process.argv.slice(2);
if (!socket || !idList || !callsArg) throw new Error('usage: allocate-client SOCKET IDS CALLS');
const ids = idList.split(',');
const calls = Number(callsArg);
const client = unixClient(socket);
const allocate = kubeletApis().devicePlugin.Allocate;
const once = (i: number) =>
  unary(client, allocate, { container_requests: [{ devices_ids: [ids[i % ids.length]!] }] }, 5000);
for (let i = 0; i < 50; i++) await once(i);
const ms: number[] = [];
for (let i = 0; i < calls; i++) {
  const t = process.hrtime.bigint();
  await once(i);
  ms.push(Number(process.hrtime.bigint() - t) / 1e6);
}
client.close();
process.stdout.write(`${JSON.stringify({ ms })}\n`);
