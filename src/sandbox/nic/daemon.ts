import * as path from 'node:path';
import { errorMessage, ExecaRunner, files, serveJsonLines } from '../../sys/index.js';
import { NicEmulator } from './emulator.js';
import { RequestSchema, type NicDaemonConfig } from './protocol.js';

/**
 * Entry of the NIC daemon (dist/nicd.js): `node nicd.js <config.json>`. It outlives the
 * process that started it so `ovs-offload demo --keep` leaves a working node behind.
 */
async function main(): Promise<void> {
  const configPath = process.argv[2];
  if (!configPath) throw new Error('usage: nicd <config.json>');
  const cfg = JSON.parse(await files.readText(configPath)) as NicDaemonConfig;
  const emu = new NicEmulator(cfg, new ExecaRunner());
  await emu.start();
  const sock = path.join(cfg.dir, 'nicd.sock');
  await files.rm(sock);
  const server = await serveJsonLines(sock, async (raw) => emu.handle(RequestSchema.parse(raw)));
  const stop = () => {
    void emu
      .close()
      .then(() => server.close())
      .finally(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  console.error(`nicd ready on ${sock}`);
}

main().catch((err: unknown) => {
  console.error(`nicd: ${errorMessage(err)}`);
  process.exit(1);
});
