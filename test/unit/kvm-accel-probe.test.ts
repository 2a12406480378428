import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import {
  decideAccel,
  evaluateProbeAttempt,
  KvmUnavailableError,
  PROBE_KERNEL_COMMAND_LINE,
  ProbeAttempt,
  summarizeKvmProbe,
  TCG_DEGRADED,
  worthTryingNextModel,
} from '../../provisioning/kvm/accel-probe.js';

/**
 * The probe's attempts as they really ended on the development machine (test/fixtures/kvm/capture.ts):
 * KVM with -cpu host aborts on MSR 0x10a, KVM with qemu64 hangs after "Probing EDD", and the same
 * probe guest under TCG reaches user space and powers off. No KVM guest boots on this host, so the
 * passing outcome is the TCG one: the probe judges the boot, whatever ran it.
 */
const attempt = (name: string) => ProbeAttempt.parse(JSON.parse(readFileSync(new URL(`../fixtures/kvm/${name}`, import.meta.url), 'utf8')));
const kvmHost = attempt('probe-kvm-host.json');
const kvmQemu64 = attempt('probe-kvm-qemu64.json');
const tcgMax = attempt('probe-tcg-max.json');
const at = '2026-11-25T15:45:00.000Z';

test('probe fixtures are what the probe really ran', () => {
  for (const fixture of [kvmHost, kvmQemu64, tcgMax]) {
    assert.ok(fixture.command.includes(PROBE_KERNEL_COMMAND_LINE), 'the probe guest command line');
    assert.ok(fixture.command.includes('-no-reboot'), 'power-off ends QEMU');
  }
});

test('a guest that reached user space and powered off passes', () => {
  const verdict = evaluateProbeAttempt(tcgMax);
  assert.equal(verdict.works, true);
  assert.match(verdict.reason, /reached user space and powered off in \d+\.\d s/);
});

test('a QEMU that aborts on an MSR fails as a QEMU error, and another CPU model is worth a try', () => {
  const verdict = evaluateProbeAttempt(kvmHost);
  assert.equal(verdict.works, false);
  assert.ok(!verdict.works && verdict.failure === 'qemu-error');
  assert.match(verdict.reason, /kvm with -cpu host: QEMU was killed by SIGABRT: .*failed to set MSR 0x10a/);
  assert.equal(worthTryingNextModel(verdict), true);
});

test('a guest that hangs after "Probing EDD" fails as a hang, quoting the console; no other model is tried', () => {
  const verdict = evaluateProbeAttempt(kvmQemu64);
  assert.ok(!verdict.works && verdict.failure === 'hang');
  assert.match(verdict.reason, /hung — no power-off within 20\.0 s; its console's last line: "Probing EDD \(edd=off to disable\)\.\.\. ok"/);
  assert.equal(worthTryingNextModel(verdict), false);
});

test('a guest that exits without running its first process fails, naming the panic', () => {
  const panicked: ProbeAttempt = {
    ...tcgMax,
    serial: tcgMax.serial.replace(/Run \/usr\/bin\/busybox as init process[\s\S]*$/, 'Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)\r\n'),
  };
  const verdict = evaluateProbeAttempt(panicked);
  assert.ok(!verdict.works && verdict.failure === 'no-userspace');
  assert.match(verdict.reason, /VFS: Unable to mount root fs/);
});

test('--accel auto on this host: KVM fails the probe, the guest runs on TCG, loudly labelled', () => {
  const probe = summarizeKvmProbe([kvmHost, kvmQemu64], at);
  assert.equal(probe.works, false);
  assert.equal(probe.cpuModel, null);
  assert.match(probe.reason, /MSR 0x10a.*; .*Probing EDD/);
  const decision = decideAccel('auto', probe);
  assert.equal(decision.accel, 'tcg');
  assert.equal(decision.cpuModel, 'max');
  assert.deepEqual(decision.degraded, [TCG_DEGRADED]);
  assert.match(decision.explanation, /EMULATED with TCG/);
});

test('--accel kvm on this host fails with a clear error instead of hanging', () => {
  const probe = summarizeKvmProbe([kvmHost, kvmQemu64], at);
  assert.throws(
    () => decideAccel('kvm', probe),
    (error: unknown) =>
      error instanceof KvmUnavailableError &&
      /--accel kvm: KVM does not work on this host \(.*Probing EDD.*\); use --accel auto or --accel tcg/.test(error.message),
  );
});

test('--accel auto and --accel kvm use KVM, with the model that booted, when the probe passes', () => {
  // The passing boot is the real TCG one, unaltered (no KVM guest boots here): what is tested is
  // that the first attempt that booted wins and its CPU model is the one the guest gets.
  const probe = summarizeKvmProbe([kvmHost, tcgMax], at);
  assert.equal(probe.works, true);
  assert.equal(probe.cpuModel, 'max', 'the model that booted, not the one that aborted');
  for (const requested of ['auto', 'kvm'] as const) {
    const decision = decideAccel(requested, probe);
    assert.deepEqual([decision.accel, decision.cpuModel, decision.degraded], ['kvm', 'max', []]);
  }
});

test('--accel tcg needs no probe and is still labelled as emulation; no /dev/kvm is a failed probe', () => {
  assert.deepEqual(decideAccel('tcg', null).degraded, [TCG_DEGRADED]);
  const none = summarizeKvmProbe([], at, 'KVM is unavailable: there is no /dev/kvm');
  assert.equal(decideAccel('auto', none).accel, 'tcg');
  assert.throws(() => decideAccel('kvm', none), /there is no \/dev\/kvm/);
});
