import { describe, expect, it } from 'vitest';
import { splitInvocation } from '../../../src/agent/cni-invocation.js';
import { DecodeError } from '../../../src/agent/errors.js';

const frame = (...parts: (string | Uint8Array)[]) =>
  new Uint8Array(Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : p))));

describe('POST /api/v1/cni framing', () => {
  it('splits NAME=VALUE\\0 entries, an empty one, then stdin byte for byte', () => {
    const stdin = new Uint8Array([0x7b, 0x00, 0xff, 0x7d]);
    const r = splitInvocation(
      frame('CNI_COMMAND=ADD\0CNI_ARGS=K8S_POD_NAME=a=b;X=\0CNI_NETNS=\0\0', stdin),
    );
    expect({ ...r.env }).toEqual({
      CNI_COMMAND: 'ADD',
      CNI_ARGS: 'K8S_POD_NAME=a=b;X=',
      CNI_NETNS: '',
    });
    expect(Buffer.from(r.stdin)).toEqual(Buffer.from(stdin));
  });

  it('keeps the first of a name given twice, as getenv and process.env do', () => {
    const r = splitInvocation(frame('CNI_COMMAND=ADD\0CNI_COMMAND=VERSION\0\0'));
    expect(r.env.CNI_COMMAND).toBe('ADD');
  });

  it('takes a long value whole (the body is bounded, not each variable)', () => {
    const r = splitInvocation(frame(`CNI_ARGS=${'x'.repeat(200_000)}\0\0`));
    expect(r.env.CNI_ARGS).toHaveLength(200_000);
  });

  it('reads values as UTF-8, invalid bytes replaced, and keeps __proto__ a plain key', () => {
    const r = splitInvocation(frame('CNI_IFNAME=', new Uint8Array([0xc3]), '\0\0'));
    expect(r.env.CNI_IFNAME).toBe('\ufffd');
    expect(Object.getPrototypeOf(r.env)).toBeNull();
  });

  it.each([
    ['no terminator', 'CNI_COMMAND=ADD'],
    ['no empty entry', 'CNI_COMMAND=ADD\0'],
    ['an entry without a name', '=ADD\0\0'],
    ['an entry without "="', 'CNI_COMMAND\0\0'],
    ['a variable that is not CNI_*', 'PATH=/bin\0\0'],
  ])('refuses %s as a decode error', (_what, body) => {
    expect(() => splitInvocation(frame(body))).toThrow(DecodeError);
  });
});
