import { emulateNic } from './nic/emulate.js';
import { startOvn } from './ovn.js';
import { startOvs } from './ovs.js';
import { Sandbox } from './sandbox.js';

export interface SelfDemoStep {
  what: string;
  detail?: string;
}

/**
 * The sandbox on its own, wired by hand the way the blog posts do it: two VFs of an emulated
 * switchdev NIC into two pods, their representors onto a userspace br-int, OVN binding them
 * by iface-id, and a ping across. Proves the sandbox pieces work together.
 */
export async function runSelfDemo(onStep: (s: SelfDemoStep) => void): Promise<void> {
  const sb = await Sandbox.create();
  try {
    onStep({ what: 'sandbox', detail: `host netns ${sb.hostNetns}, dir ${sb.dir}` });
    const ovs = await startOvs(sb);
    onStep({ what: 'ovsdb-server + ovs-vswitchd (userspace datapath)', detail: ovs.dbSock });
    const ovn = await startOvn(sb, ovs);
    onStep({ what: 'OVN NB/SB + ovn-northd + ovn-controller', detail: ovn.nbSock });
    await ovs.addBridge('br-int');
    const nic = await emulateNic(sb, {
      identity: 'mlx5',
      pfs: 1,
      vfsPerPf: 2,
      eswitchMode: 'switchdev',
    });
    const st = await nic.state();
    const pf = st.pfs[0];
    if (!pf) throw new Error('no PF');
    onStep({
      what: 'emulated ConnectX-5 in switchdev',
      detail: `PF ${pf.pci} uplink ${pf.netdev}, VFs ${pf.vfs.map((v) => `${v.pci}→${v.representor ?? '?'}`).join(', ')}`,
    });
    await ovn.createSwitch('ls0');
    const pods = [await sb.makePod('a'), await sb.makePod('b')];
    for (const [i, pod] of pods.entries()) {
      const vf = pf.vfs[i];
      if (!vf?.netdev || !vf.representor) throw new Error(`VF ${i} has no netdev/representor`);
      const mac = `0a:00:00:00:00:0${i + 1}`;
      const ip = `10.99.0.${i + 1}`;
      const ifaceId = `${pod.name}.default`;
      await ovn.addPort('ls0', ifaceId, mac, ip);
      await ovs.vsctl([
        'add-port',
        'br-int',
        vf.representor,
        '--',
        'set',
        'Interface',
        vf.representor,
        `external_ids:iface-id=${ifaceId}`,
      ]);
      await sb.ip.run({ name: sb.hostNetns }, ['link', 'set', vf.representor, 'up']);
      await sb.ip.batch({ name: sb.hostNetns }, [['link', 'set', vf.netdev, 'netns', pod.netns]]);
      await sb.ip.batch({ name: pod.netns }, [
        ['link', 'set', vf.netdev, 'name', 'net1'],
        ['link', 'set', 'net1', 'address', mac],
        ['addr', 'add', `${ip}/24`, 'dev', 'net1'],
        ['link', 'set', 'net1', 'up'],
      ]);
      onStep({
        what: `pod ${pod.name}`,
        detail: `VF ${vf.pci} as net1 ${ip}, representor ${vf.representor} on br-int iface-id=${ifaceId}`,
      });
    }
    for (let i = 0; i < 100; i++) {
      const r = await ovs.vsctl([
        '--columns=external_ids',
        'find',
        'Interface',
        'external_ids:ovn-installed="true"',
      ]);
      if ((r.stdout.match(/ovn-installed/g) ?? []).length >= 2) break;
      await new Promise((res) => setTimeout(res, 100));
    }
    onStep({ what: 'ovn-controller bound both ports (ovn-installed=true)' });
    const a = pods[0];
    if (!a) throw new Error('no pod');
    const ping = await sb.execInPod(a, ['ping', '-c', '3', '-i', '0.2', '-W', '2', '10.99.0.2']);
    const summary =
      ping.stdout.split('\n').find((l) => l.includes('packets transmitted')) ?? ping.stdout;
    onStep({ what: 'ping a → b through OVN', detail: summary.trim() });
    const flows = await ovs.appctl(['dpctl/dump-flows', '-m', 'type=all']);
    const n = flows.stdout.split('\n').filter((l) => l.startsWith('ufid:')).length;
    onStep({
      what: 'datapath flows (userspace: dp:ovs, never offloaded on an emulated NIC)',
      detail: `${n} flows`,
    });
  } finally {
    const problems = await sb.destroy();
    onStep({
      what: 'teardown',
      detail: problems.length === 0 ? 'nothing left behind' : problems.join('; '),
    });
  }
}
