/*
 * The OCI runtime configuration (config.json) of a container isobench checkpoints with CRIU: runc
 * 1.1's `runc spec` default, with Docker's default capabilities (nginx's master drops to an
 * unprivileged user), tmpfs on /run and /tmp, and the network namespace isobench made, joined by
 * path so that runc tells CRIU it is external (`--external net[…]`) and a restore can join another.
 */

/** Docker 20.10's default capability set (moby's `oci/caps/defaults.go`). */
export const DOCKER_DEFAULT_CAPABILITIES = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FSETID', 'CAP_FOWNER', 'CAP_MKNOD', 'CAP_NET_RAW', 'CAP_SETGID', 'CAP_SETUID',
  'CAP_SETFCAP', 'CAP_SETPCAP', 'CAP_NET_BIND_SERVICE', 'CAP_SYS_CHROOT', 'CAP_KILL', 'CAP_AUDIT_WRITE',
] as const;

/** What differs between two containers' configurations. */
export interface OciConfigInputs {
  hostname: string;
  /** The root file system's directory on the host (an overlay mount on the cached tree). */
  rootfs: string;
  /** `/var/run/netns/NAME`. */
  netnsPath: string;
  /** The container's first process. Its stdio must not point outside the container (CRIU cannot dump that): see workloadCommand. */
  args: readonly string[];
}

/** A config.json as runc 1.1 reads it (OCI runtime spec 1.0.2). */
export function ociConfig(inputs: OciConfigInputs): Record<string, unknown> {
  const capabilities = [...DOCKER_DEFAULT_CAPABILITIES];
  return {
    ociVersion: '1.0.2-dev',
    process: {
      terminal: false,
      user: { uid: 0, gid: 0 },
      args: [...inputs.args],
      env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
      cwd: '/',
      capabilities: { bounding: capabilities, effective: capabilities, permitted: capabilities },
      rlimits: [{ type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024 }],
      noNewPrivileges: true,
    },
    root: { path: inputs.rootfs, readonly: false },
    hostname: inputs.hostname,
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc' },
      { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
      { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'] },
      { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
      { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
      { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
      { destination: '/run', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'mode=755'] },
      { destination: '/tmp', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'mode=1777'] },
    ],
    linux: {
      resources: { devices: [{ allow: false, access: 'rwm' }] },
      namespaces: [{ type: 'pid' }, { type: 'network', path: inputs.netnsPath }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }],
      maskedPaths: ['/proc/acpi', '/proc/asound', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list', '/proc/timer_stats', '/proc/sched_debug', '/sys/firmware', '/proc/scsi'],
      readonlyPaths: ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'],
    },
  };
}

/**
 * The container's first process for a migration workload: a shell that points its own stdio at a
 * log on the container's /run (CRIU cannot dump a descriptor of a file outside the container's
 * mounts: "Can't lookup mount=… for fd=1"), then starts the servers as its children and waits, so
 * that every workload process is in the tree CRIU dumps (processes added with `runc exec` are not
 * children of the container's init). `files` (nginx's configuration) are written first. Paths,
 * contents and arguments reach the script as positional parameters, never pasted into its text.
 */
export function workloadCommand(servers: ReadonlyArray<readonly string[]>, files: ReadonlyArray<{ path: string; content: string }> = []): string[] {
  const lines = ['exec </dev/null >/run/isobench-workload.log 2>&1'];
  const args: string[] = [];
  for (const file of files) {
    args.push(file.path, file.content);
    lines.push(`printf '%s' "\${${args.length}}" > "\${${args.length - 1}}"`);
  }
  for (const server of servers) {
    const first = args.length + 1;
    args.push(...server);
    const refs = server.map((_, index) => `"\${${first + index}}"`).join(' ');
    lines.push(`${refs} &`);
  }
  lines.push('wait');
  return ['sh', '-c', lines.join('\n'), 'isobench-workload', ...args];
}
