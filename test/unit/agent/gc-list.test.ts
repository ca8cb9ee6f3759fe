import { describe, expect, it } from 'vitest';
import { validAttachments } from '../../../src/agent/attach/gc-list.js';
import { InvalidInputError } from '../../../src/sys/index.js';

const a = (containerID: string, ifname: string) => ({ containerID, ifname });

describe('validAttachments (CNI GC)', () => {
  it.each([
    ['CNI 1.1.0 key', { 'cni.dev/attachments': [a('c1', 'net1')] }, ['c1/net1']],
    ['libcni 1.2.0-1.2.2 key', { 'cni.dev/valid-attachments': [a('c1', 'net1')] }, ['c1/net1']],
    [
      'libcni 1.2.3+: both, the same',
      { 'cni.dev/attachments': [a('c1', 'net1')], 'cni.dev/valid-attachments': [a('c1', 'net1')] },
      ['c1/net1'],
    ],
    ['null is an empty list', { 'cni.dev/valid-attachments': null }, []],
    ['an empty list', { 'cni.dev/attachments': [] }, []],
  ])('%s', (_n, config, want) => {
    expect([...validAttachments(config)]).toEqual(want);
  });

  it.each([
    ['no key at all', {}],
    ['a string', { 'cni.dev/valid-attachments': 'c1/net1' }],
    ['an object', { 'cni.dev/attachments': { c1: 'net1' } }],
    ['a number', { 'cni.dev/attachments': 0 }],
    ['an entry without ifname', { 'cni.dev/attachments': [{ containerID: 'c1' }] }],
    ['an entry that is a string', { 'cni.dev/attachments': ['c1'] }],
    [
      'the two keys disagree',
      { 'cni.dev/attachments': [a('c1', 'net1')], 'cni.dev/valid-attachments': [a('c2', 'net1')] },
    ],
  ])('refuses %s (nothing may be removed on a misread list)', (_n, config) => {
    expect(() => validAttachments(config)).toThrow(InvalidInputError);
  });
});
