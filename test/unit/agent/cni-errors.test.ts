import { describe, expect, it } from 'vitest';
import { CniError } from '../../../src/cni/errors.js';
import { PluginCode, toCniError } from '../../../src/agent/cni-errors.js';
import {
  CheckMismatchError,
  DecodeError,
  NotReadyError,
  PluginError,
  RequestEnvError,
  TransientError,
  VersionError,
  VfInUseError,
} from '../../../src/agent/errors.js';
import { IpamPluginMissingError } from '../../../src/agent/ipam.js';
import { OvsdbDisconnectedError, OvsdbError } from '../../../src/ovs/errors.js';
import {
  CommandError,
  InvalidInputError,
  NotFoundError,
  TimeoutError,
} from '../../../src/sys/index.js';

describe('toCniError: the one place errors become CNI codes', () => {
  const cases: [string, unknown, number][] = [
    ['bad CNI_NETNS', new RequestEnvError('CNI_NETNS', '/x does not exist'), 4],
    ['taken CNI_IFNAME', new RequestEnvError('CNI_IFNAME', 'eth0 already exists'), 4],
    ['undecodable body', new DecodeError('decode request: bad'), 6],
    ['cniVersion', new VersionError('incompatible CNI version "9"'), 1],
    ['bad config', new InvalidInputError('mtu', 'out of range'), 7],
    ['unknown VF', new NotFoundError('VF 0000:99:00.1'), 7],
    ['VF in use', new VfInUseError('0000:03:00.2', 'default/a', 'c1'), 7],
    ['missing IPAM plugin', new IpamPluginMissingError('nope', '/opt/cni/bin'), 7],
    [
      'CHECK mismatch',
      new CheckMismatchError('CHECK c/eth0: lacks address'),
      PluginCode.CheckMismatch,
    ],
    ['IPAM error passes its code', new PluginError(18, 'IPAM host-local: no addresses'), 18],
    ['STATUS not ready', new NotReadyError('OVSDB down'), 50],
    ['transient', new TransientError('OVN slow'), 11],
    ['timeout', new TimeoutError('ofport of r0', 10_000), 11],
    [
      'timeout deep in the cause chain',
      new Error('attach', { cause: new Error('x', { cause: new TimeoutError('y', 1) }) }),
      11,
    ],
    ['timed-out command', new CommandError(['ip'], null, '', { timedOut: true }), 11],
    [
      'a failing command is not transient',
      new CommandError(['ip', 'link'], 2, 'RTNETLINK answers: File exists'),
      PluginCode.HostFailure,
    ],
    ['unknown error is not 11', new Error('boom'), PluginCode.HostFailure],
    ['a thrown string', 'weird', PluginCode.HostFailure],
  ];
  it.each(cases)('%s', (_name, err, code) => {
    const e = toCniError(err);
    expect(e).toBeInstanceOf(CniError);
    expect(e.code).toBe(code);
    expect(e.message.length).toBeGreaterThan(0);
  });

  it('OVSDB reconnecting is transient, also wrapped; a refused transaction is not', () => {
    const lost = new OvsdbDisconnectedError('unix:/run/db.sock', 'connection lost');
    expect(toCniError(new Error('attach port', { cause: lost })).code).toBe(11);
    const refused = new OvsdbError('insert', 'constraint violation', 'duplicate name', {
      context: 'transact',
    });
    expect(toCniError(refused).code).toBe(PluginCode.HostFailure);
  });
});
