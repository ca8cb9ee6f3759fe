import { describe, expect, it } from 'vitest';
import { parseCheckpoint } from '../../../src/deviceplugin/checkpoint.js';

describe('kubelet device manager checkpoint', () => {
  it('reads DeviceIDs in both the per-NUMA map form (1.20+) and the old list form', () => {
    const text = JSON.stringify({
      Data: {
        PodDeviceEntries: [
          {
            PodUID: 'a',
            ContainerName: 'c',
            ResourceName: 'intel.com/x',
            DeviceIDs: { '0': ['0000:03:00.2'], '1': ['0000:81:00.2'] },
            AllocResp: 'e30=',
          },
          {
            PodUID: 'b',
            ContainerName: 'c',
            ResourceName: 'intel.com/x',
            DeviceIDs: ['0000:03:00.3'],
            AllocResp: '',
          },
          {
            PodUID: 'c',
            ContainerName: 'c',
            ResourceName: 'nvidia.com/gpu',
            DeviceIDs: null,
            AllocResp: '',
          },
        ],
        RegisteredDevices: { 'intel.com/x': ['0000:03:00.2'] },
      },
      Checksum: 12345,
    });
    const m = parseCheckpoint(text);
    expect([...m.get('intel.com/x')!].sort()).toEqual([
      '0000:03:00.2',
      '0000:03:00.3',
      '0000:81:00.2',
    ]);
    expect([...m.get('nvidia.com/gpu')!]).toEqual([]);
  });

  it.each([
    ['not json', '{'],
    ['another shape', '{"Data": 3}'],
    ['empty', '{"Data": {}}'],
  ])('%s means nothing known', (_n, text) => {
    expect(parseCheckpoint(text).size).toBe(0);
  });
});
