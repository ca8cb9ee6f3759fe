import { describe, expect, it } from 'vitest';
import { parseEndpoint } from '../../../src/ovs/ovsdb/index.js';
import { InvalidInputError, NotSupportedError } from '../../../src/sys/index.js';

describe('parseEndpoint', () => {
  it.each([
    ['unix:/var/run/openvswitch/db.sock', { kind: 'unix', path: '/var/run/openvswitch/db.sock' }],
    ['unix:relative.sock', { kind: 'unix', path: 'relative.sock' }],
    ['tcp:127.0.0.1:6640', { kind: 'tcp', host: '127.0.0.1', port: 6640 }],
    ['tcp:ovsdb.example:6641', { kind: 'tcp', host: 'ovsdb.example', port: 6641 }],
    ['tcp:[::1]:6640', { kind: 'tcp', host: '::1', port: 6640 }],
  ])('%s', (text, want) => {
    expect(parseEndpoint(text)).toEqual({ ...want, text });
  });

  it.each([
    ['no method', '/var/run/db.sock'],
    ['empty unix path', 'unix:'],
    ['tcp without port', 'tcp:127.0.0.1'],
    ['tcp port 0', 'tcp:127.0.0.1:0'],
    ['tcp port too big', 'tcp:127.0.0.1:70000'],
    ['unbracketed IPv6', 'tcp:::1:6640'],
    ['bad IPv6', 'tcp:[1:2:3:4:5:6:7:8:9]:6640'],
  ])('rejects %s with InvalidInputError', (_n, text) => {
    expect(() => parseEndpoint(text)).toThrow(InvalidInputError);
  });

  it('refuses ssl: by name', () => {
    expect(() => parseEndpoint('ssl:10.0.0.1:6640')).toThrow(NotSupportedError);
    expect(() => parseEndpoint('ssl:10.0.0.1:6640')).toThrow(
      'connect ssl:10.0.0.1:6640: only unix: and tcp: endpoints are supported',
    );
  });
});
