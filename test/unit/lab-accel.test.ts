import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseFacts } from '../../provisioning/lab-host-facts.js';
import { chooseLabAccel } from '../../provisioning/kvm/lab/lab-accel.js';
import type { LabHostFacts } from '../../results/schema.js';
import { REPO_ROOT } from '../helpers.js';

/** A real host's facts (its probe: QEMU missing), with the probe's verdict as `accel` and `detail` say. */
function factsWith(accel: LabHostFacts['accel'], accelDetail: string): LabHostFacts {
  const facts = parseFacts(readFileSync(join(REPO_ROOT, 'test/fixtures/hosts/facts-no-qemu.out'), 'utf8'));
  return { ...facts, accel, accelDetail };
}

const works = factsWith('works', 'a kernel booted under KVM as far as mounting its root file system (/boot/vmlinuz-6.1.0-28-amd64)');
const hangs = factsWith('hangs', "a kernel under KVM did not reach its root file system within 15 s (/boot/vmlinuz-6.1.0-28-amd64 (stopped after the kernel's real-mode setup)): guests must run emulated (TCG)");

test('--accel auto runs a lab guest under KVM only where every host it runs on has a working probe', () => {
  const kvm = chooseLabAccel('auto', [{ name: 'a', facts: works }, { name: 'b', facts: works }]);
  assert.deepEqual(kvm, { accel: 'kvm', cpuModel: 'host', decision: '--accel auto: KVM, the accel probe booted a kernel under it on a and b', degraded: [] });

  // A migration's destination that hangs makes both ends emulated: the guest must run the same way on each.
  const tcg = chooseLabAccel('auto', [{ name: 'a', facts: works }, { name: 'b', facts: hangs }]);
  assert.equal(tcg.accel, 'tcg');
  assert.equal(tcg.cpuModel, 'max');
  assert.deepEqual(tcg.degraded, ['TCG emulation: not KVM']);
  assert.match(tcg.decision, /^--accel auto: emulated CPU \(TCG\), because KVM on host b hangs: a kernel under KVM did not reach its root file system within 15 s/);

  // Not probed (no QEMU) is said once, and facts never read are named.
  const notProbed = chooseLabAccel('auto', [{ name: 'sut', facts: factsWith('not probed', 'not probed: qemu-system-x86_64 is missing') }]);
  assert.equal(notProbed.decision, '--accel auto: emulated CPU (TCG), because KVM on host sut was not probed: qemu-system-x86_64 is missing');
  assert.match(chooseLabAccel('auto', [{ name: 'sut', facts: null }]).decision, /because host sut's facts were not read, so KVM was not probed there$/);
});

test('--accel tcg never asks the probe; --accel kvm is refused where the probe says KVM does not work', () => {
  assert.deepEqual(chooseLabAccel('tcg', [{ name: 'sut', facts: works }]), { accel: 'tcg', cpuModel: 'max', decision: '--accel tcg: emulated CPU (TCG), KVM not used', degraded: ['TCG emulation: not KVM'] });
  assert.equal(chooseLabAccel('kvm', [{ name: 'sut', facts: works }]).accel, 'kvm');
  assert.throws(() => chooseLabAccel('kvm', [{ name: 'sut', facts: works }, { name: 'peer', facts: hangs }]), /^Error: --accel kvm: KVM on host peer hangs: .*: use --accel auto \(emulated, labelled\) or --accel tcg$/);
});
