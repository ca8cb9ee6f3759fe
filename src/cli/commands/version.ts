import * as path from 'node:path';
import { files, packageRoot } from '../../sys/index.js';

export async function run(): Promise<number> {
  const pj = JSON.parse(await files.readText(path.join(packageRoot(), 'package.json'))) as {
    version: string;
  };
  process.stdout.write(`ovs-offload ${pj.version}\n`);
  return 0;
}
