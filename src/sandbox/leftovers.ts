import { files, type CommandRunner } from '../sys/index.js';

/**
 * Everything on the machine that still carries a sandbox's id: netns, links in the root
 * netns, mounts, its temp dir, processes whose command line names its dir.
 */
export async function findLeftovers(
  runner: CommandRunner,
  id: string,
  dir: string,
): Promise<string[]> {
  const found: string[] = [];
  const ns = await runner.run(['ip', 'netns', 'list']);
  for (const line of ns.stdout.split('\n')) {
    const name = line.split(' ')[0] ?? '';
    if (name.includes(`-${id}`)) found.push(`netns ${name}`);
  }
  const links = await runner.run(['ip', '-o', 'link', 'show']);
  for (const line of links.stdout.split('\n')) {
    const name = /^\d+: ([^:@]+)/.exec(line)?.[1];
    if (name?.startsWith(`o${id}`)) found.push(`link ${name}`);
  }
  const mounts = (await files.readTextOrNull('/proc/mounts')) ?? '';
  for (const line of mounts.split('\n')) {
    const mp = line.split(' ')[1];
    if (mp?.startsWith(dir)) found.push(`mount ${mp}`);
  }
  if (await files.lexists(dir)) found.push(`dir ${dir}`);
  for (const pid of await files.readdirOrEmpty('/proc')) {
    if (!/^\d+$/.test(pid) || Number(pid) === process.pid) continue;
    const cmd = await files.readTextOrNull(`/proc/${pid}/cmdline`);
    if (cmd?.includes(dir)) found.push(`process ${pid} (${cmd.split('\0').slice(0, 3).join(' ')})`);
  }
  return found;
}

/**
 * Removes what `findLeftovers` would report for a sandbox that outlived its process
 * (`ovs-offload demo --keep`): its processes, mounts, root-netns links, netns, then its dir.
 */
export async function removeLeftovers(
  runner: CommandRunner,
  id: string,
  dir: string,
): Promise<string[]> {
  const gone: string[] = [];
  for (const pid of await files.readdirOrEmpty('/proc')) {
    if (!/^\d+$/.test(pid) || Number(pid) === process.pid) continue;
    const cmd = await files.readTextOrNull(`/proc/${pid}/cmdline`);
    if (cmd?.includes(dir)) {
      await runner.run(['kill', pid], { okExitCodes: [1] });
      gone.push(`process ${pid}`);
    }
  }
  const mounts = (await files.readTextOrNull('/proc/mounts')) ?? '';
  for (const line of mounts.split('\n')) {
    const mp = line.split(' ')[1];
    if (mp?.startsWith(dir)) {
      await runner.run(['umount', '-l', mp], { okExitCodes: [32] });
      gone.push(`mount ${mp}`);
    }
  }
  const links = await runner.run(['ip', '-o', 'link', 'show']);
  for (const line of links.stdout.split('\n')) {
    const name = /^\d+: ([^:@]+)/.exec(line)?.[1];
    if (name?.startsWith(`o${id}`)) {
      await runner.run(['ip', 'link', 'delete', name], { okExitCodes: [1] });
      gone.push(`link ${name}`);
    }
  }
  const ns = await runner.run(['ip', 'netns', 'list']);
  for (const line of ns.stdout.split('\n')) {
    const name = line.split(' ')[0] ?? '';
    if (name.includes(`-${id}`)) {
      await runner.run(['ip', 'netns', 'delete', name], { okExitCodes: [1] });
      gone.push(`netns ${name}`);
    }
  }
  if (await files.lexists(dir)) {
    await files.rm(dir, { recursive: true });
    gone.push(`dir ${dir}`);
  }
  return gone;
}
