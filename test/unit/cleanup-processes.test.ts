import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ProcessStat } from '../../core/proc.js';
import { processLeftovers, RUN_DIRECTORY_PREFIX } from '../../provisioning/leftovers.js';

const stat = (pid: number, ppid: number, comm: string, state = 'S'): ProcessStat => ({ pid, ppid, comm, state, pgrp: pid, utimeTicks: 0, stimeTicks: 0, startTime: String(1000 + pid) });

test('cleanup finds the trial tools a killed run orphaned in its namespace, and processes on its run directory', async () => {
  const table = [
    stat(1, 0, 'init'), stat(process.pid, 1, 'node'),
    stat(500, 1, 'sockperf'), // the client's sockperf, orphaned in isobench-client
    stat(501, 1, 'fio'), // a native fio on the run directory's file
    stat(502, 1, 'fio'), // someone else's fio
    stat(503, 1, 'sleep'), // in a namespace that is not isobench's
    stat(504, 1, 'iperf3', 'Z'), // a zombie: already dead
    stat(505, 1, 'qemu-system-x86'), // a guest on the run directory's disk: the ledger's and the kvm scanner's
  ];
  const argv: Record<number, string[]> = {
    500: ['sockperf', 'ping-pong', '-i', '198.18.0.1'],
    501: ['fio', '--name=randread', `--filename=${RUN_DIRECTORY_PREFIX}Ab12Cd/native-data/fio.dat`],
    502: ['fio', '--filename=/srv/test.dat'],
    503: ['sleep', 'infinity'],
    504: ['iperf3', `--logfile=${RUN_DIRECTORY_PREFIX}x/log`],
    505: ['qemu-system-x86_64', '-drive', `file=${RUN_DIRECTORY_PREFIX}x/kvm-disk.raw`],
  };
  const found = await processLeftovers({
    processes: async () => table,
    argv: async (pid) => argv[pid] ?? [],
    namespaces: async () => ['isobench-client', 'bystander'],
    pidsIn: async (namespace) => (namespace === 'isobench-client' ? [500, process.pid] : [503]),
  }).find();
  assert.deepEqual(found.map((leftover) => leftover.description), [
    'process sockperf (pid 500) in network namespace isobench-client',
    'process fio (pid 501) using a run directory',
  ]);
  assert.deepEqual(found[0]!.undo, { kind: 'process', pid: 500, startTicks: '1500' }, 'the undo names the process by its start time, so a reused pid is spared');
});
