import type { CommandRunner } from '../../sys/index.js';
import { runDevlink } from './devlink.js';
import { runEthtool } from './ethtool.js';
import { realFeatures } from './host-ethtool.js';
import type { NicIdentity } from './identity.js';
import { runIpVf, vfinfoJson, vfinfoText } from './ipvf.js';
import { devlinkModel, ethtoolModel, ipModel } from './models.js';
import { createPfs } from './pfs.js';
import { destroyPodNetns } from './pod-return.js';
import type { NicDaemonConfig, NicStateView, Request, ToolResult } from './protocol.js';
import { SerialQueue } from './serial.js';
import { showLinks } from './show-links.js';
import { NicState } from './state.js';
import { syncNow } from './sync.js';
import type { SysTree } from './tree.js';
import { onNumVfsWrite } from './vfs.js';
import { fullView, view } from './views.js';
import { Watching } from './watch.js';

/**
 * The emulated switchdev NIC: owns the sysfs tree and the veth pairs standing for VFs and
 * representors, reacts to the sysfs writes the kernel reacts to, and answers the devlink/ip/
 * ethtool stand-ins. Every operation runs one at a time (a queue), like the RTNL lock.
 */
export class NicEmulator {
  readonly identity: NicIdentity;
  readonly tree: SysTree;
  private readonly nic: NicState;
  private readonly queue = new SerialQueue();
  private readonly watching: Watching;

  constructor(
    readonly cfg: NicDaemonConfig,
    runner: CommandRunner,
  ) {
    this.nic = new NicState(cfg, runner);
    this.identity = this.nic.identity;
    this.tree = this.nic.tree;
    this.watching = new Watching(this.nic, this.queue);
  }

  async start(): Promise<void> {
    await createPfs(this.nic);
    await syncNow(this.nic);
    this.watching.start();
  }

  view(): NicStateView {
    return view(this.nic);
  }

  // ---- requests ----

  async handle(req: Request): Promise<unknown> {
    const { nic, queue } = this;
    switch (req.op) {
      case 'ping':
        return 'pong';
      case 'sync':
        return queue.run(async () => {
          for (const pf of nic.pfs) await onNumVfsWrite(nic, pf);
          await syncNow(nic);
          return true;
        });
      case 'state':
        return queue.run(() => fullView(nic));
      case 'calls':
        return nic.calls.all;
      case 'clearCalls':
        nic.calls.clear();
        return true;
      case 'fault':
        nic.fault = req.fault;
        return true;
      case 'destroyPodNetns':
        return queue.run(() => destroyPodNetns(nic, req.netns));
      case 'devlink':
        return queue.run(async () => {
          const r = await runDevlink(devlinkModel(nic, await nic.hostLinks()), req.argv);
          nic.calls.record('devlink', req.argv, r.code, r.code ? r.stderr.trim() : undefined);
          return r;
        });
      case 'ip':
        return queue.run(async () => {
          const r: ToolResult = (await runIpVf(ipModel(nic), req.argv)) ?? {
            stdout: '',
            stderr: '',
            code: 0,
            passthrough: true,
          };
          if (!r.passthrough)
            nic.calls.record('ip', req.argv, r.code, r.code ? r.stderr.trim() : undefined);
          return r;
        });
      case 'ethtool':
        return queue.run(async () => {
          const links = await nic.hostLinks();
          const [flag, dev] = req.argv;
          const real =
            (flag === '-k' || flag === '--show-features') && dev
              ? await realFeatures(nic, dev)
              : null;
          const r = runEthtool(ethtoolModel(nic, links), req.argv, real);
          if (!r.passthrough)
            nic.calls.record('ethtool', req.argv, r.code, r.code ? r.stderr.trim() : undefined);
          return r;
        });
      case 'vfinfo':
        return queue.run(async () => {
          const pf = nic.pfs.find((p) => p.uplink === req.pf);
          if (!pf) return null;
          return {
            json: pf.vfs.map((vf) => vfinfoJson(vf.index, vf.knobs)),
            text: pf.vfs.map((vf) => vfinfoText(vf.index, vf.knobs)),
          };
        });
      case 'showLinks':
        return queue.run(() => showLinks(nic, req));
      case 'shutdown':
        setTimeout(() => void this.close().then(() => process.exit(0)), 10).unref();
        return true;
    }
  }

  async close(): Promise<void> {
    this.watching.close();
    await this.queue.drained();
  }
}
