import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findExecutable } from '../../core/tools.js';
import { computeRecipeHash, findBootFiles, resolveImageCacheDir, rootfsDirName } from '../image/index.js';
import { kvmDeviceProblem, probeKvm } from './accel-probe.js';
import { libvirtdStatus, loadLibvirtBindings } from './libvirt.js';
import { QEMU_BINARY } from './qemu-command.js';

/**
 * `npm run doctor`'s answer to "does a KVM guest really run here?": the accel probe itself (its
 * cached answer when one exists for this host boot), not the mere existence of /dev/kvm.
 */
export async function kvmDoctorCheck(qemuVersion: () => Promise<string>): Promise<{ value: string; note: string }> {
  const device = await kvmDeviceProblem();
  if (device) return { value: 'no', note: `${device}: the kvm target runs its guest emulated (TCG)` };
  if (!(await findExecutable(QEMU_BINARY))) return { value: 'not probed', note: `${QEMU_BINARY} is missing (apt-get install qemu-system-x86)` };
  const tree = join(resolveImageCacheDir(), rootfsDirName(await computeRecipeHash()));
  if (!(await stat(tree).then((info) => info.isDirectory(), () => false))) {
    return { value: 'not probed', note: 'the guest image is not built yet: `npm run bench -- --target kvm` builds it and probes' };
  }
  const boot = await findBootFiles(tree);
  const work = await mkdtemp(join(tmpdir(), 'isobench-doctor-'));
  try {
    const probe = await probeKvm({ kernel: boot.kernel, initrd: boot.initrd, workDirectory: work, qemuVersion: await qemuVersion() });
    return {
      value: probe.works ? `yes (-cpu ${probe.cpuModel})` : 'no',
      note: `${probe.works ? '--accel auto uses KVM' : '--accel auto falls back to TCG (emulation)'}: ${probe.reason}${probe.cached ? ` (probed ${probe.probedAt}, cached for this host boot)` : ''}`,
    };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** `npm run doctor`'s libvirt row: does libvirtd answer, and are the Node bindings there. */
export async function libvirtDoctorCheck(): Promise<{ value: string; note: string }> {
  const status = await libvirtdStatus();
  const bindings = await loadLibvirtBindings().then(
    () => null,
    (error: unknown) => (error as Error).message,
  );
  if (status.problem) return { value: 'not answering', note: `${status.problem}; --vm-manager libvirt needs it (start libvirtd and virtlogd)` };
  return { value: `answers (${status.version})`, note: bindings ?? '--vm-manager libvirt is ready' };
}
