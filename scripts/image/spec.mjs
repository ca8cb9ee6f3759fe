// What the node image holds, in one place: scripts/build-image.mjs builds it and
// test/unit/image-dockerfile.test.ts holds deploy/Dockerfile to the same content.

/** The host tools the agent runs, exactly as deploy/Dockerfile's `apt-get install` names them. */
export const DEBIAN_TOOLS = ['iproute2', 'ethtool', 'openvswitch-common', 'util-linux'];

/**
 * What deploy/Dockerfile gets from its base image (Debian's Essential set in bookworm-slim) and
 * the image still needs: /bin/sh, cp/chmod/mv/readlink/dirname and grep for install-cni and
 * bin/ovs-offload, the C++ runtime node links, /etc/os-release.
 */
export const DEBIAN_BASE = ['base-files', 'dash', 'coreutils', 'grep', 'libstdc++6'];

export const DEBIAN_SUITE = 'bookworm';

/** Where the node binary goes: where the official node images put it. */
export const NODE_PATH = '/usr/local/bin/node';

export const APP_ROOT = '/opt/ovs-offload';

/** Image path → checkout path (relative to the repository); a trailing "/" is a directory. */
export const APP_FILES = {
  '/opt/ovs-offload/package.json': 'package.json',
  '/opt/ovs-offload/proto/': 'proto/',
  '/opt/ovs-offload/bin/ovs-offload': 'bin/ovs-offload',
  '/opt/ovs-offload/dist/cli.js': 'dist/cli.js',
  '/opt/ovs-offload/dist/cli.js.map': 'dist/cli.js.map',
  '/usr/local/lib/ovs-offload/ovs-offload-cni': 'dist/ovs-offload-cni',
  '/usr/local/lib/ovs-offload/ovs-offload-cni-node': 'dist/sea/ovs-offload-cni-node',
};

export const IMAGE_PATH =
  '/opt/ovs-offload/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** The OCI image config (the Dockerfile's ENV, WORKDIR and CMD). */
export const IMAGE_CONFIG = {
  Env: [`PATH=${IMAGE_PATH}`],
  WorkingDir: APP_ROOT,
  Cmd: ['ovs-offload', 'agent', '--config', '/etc/ovs-offload/agent.yaml'],
};

/** Documentation Debian ships that a node image never reads (bookworm-slim drops it too). */
export const TRIM = [
  'usr/share/man',
  'usr/share/info',
  'usr/share/locale',
  'usr/share/lintian',
  'usr/share/bash-completion',
];

export const IMAGE_REPOSITORY = 'localhost/ovs-offload';
export const ARCHIVE = 'dist/image/ovs-offload.oci.tar';
export const LOCK = 'scripts/image/packages.lock.json';
