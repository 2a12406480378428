/**
 * harness/pinning.ts: the CPU-set plan for 2, 4 and 8 cores (the development machine has 2, so the
 * larger hosts are only ever exercised here).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pinClientCommand, planPinning } from '../../harness/pinning.js';

/** The CPUs of a taskset list such as `0`, `2-7`. */
function cpus(list: string): number[] {
  const [first, last] = list.split('-').map(Number) as [number, number | undefined];
  return Array.from({ length: (last ?? first) - first + 1 }, (_, index) => first + index);
}

test('2 cores: oversubscribed, nothing planned or pinned, and the reason says why', () => {
  const plan = planPinning(2, ['native', 'kvm']);
  assert.deepEqual(plan, {
    oversubscribed: true,
    cpuSets: null,
    reason: '2 cores: client, servers and targets share them, nothing is pinned (pinning needs 4 or more)',
  });
  assert.deepEqual(pinClientCommand(plan, ['iperf3', '-c', 'x']), ['iperf3', '-c', 'x']);
});

test('4 cores: the client gets CPU 0, every configuration 1-3; only the client is said to be pinned', () => {
  const plan = planPinning(4, ['native', 'docker-nat']);
  assert.equal(plan.oversubscribed, false);
  assert.deepEqual(plan.cpuSets, { client: '0', native: '1-3', 'docker-nat': '1-3' });
  assert.equal(plan.reason, 'client commands pinned to CPU 0 (taskset -c); CPUs 1-3 planned for native, docker-nat but not applied: the target drivers take no CPU set yet');
  assert.deepEqual(pinClientCommand(plan, ['sockperf', 'pp']), ['taskset', '-c', '0', 'sockperf', 'pp']);
});

test('8 cores: client 0-1, configurations 2-7; client and server side are disjoint and cover every CPU', () => {
  const plan = planPinning(8, ['native', 'kvm', 'kvm~aa']);
  assert.deepEqual(plan.cpuSets, { client: '0-1', native: '2-7', kvm: '2-7', 'kvm~aa': '2-7' });
  assert.match(plan.reason, /^client commands pinned to CPUs 0-1 \(taskset -c\); CPUs 2-7 planned for native, kvm, kvm~aa but not applied/);
  for (const cores of [4, 5, 8, 16, 64]) {
    const sets = planPinning(cores, ['a']).cpuSets!;
    const client = cpus(sets.client!);
    const server = cpus(sets.a!);
    assert.deepEqual(client.filter((cpu) => server.includes(cpu)), [], `${cores} cores: disjoint`);
    assert.deepEqual([...client, ...server], Array.from({ length: cores }, (_, index) => index), `${cores} cores: every CPU once`);
    assert.ok(server.length >= client.length * 2, `${cores} cores: the server side has the larger share`);
  }
});
