/**
 * The kvm guest's data directory (fio's file, MariaDB's files): made in the guest and checked to lie
 * on the guest's virtio disk, so random-io and mysql measure the guest's disk path (virtio-blk, QEMU,
 * the host's file system) and never a tmpfs or overlay of the image's initrd. Shared by the kvm target
 * on this machine (provisioning/targets/kvm.ts) and on a lab host (lab/lab-kvm-target.ts).
 */
import { describeFailure, type CommandOptions, type CommandOutcome } from '../../core/exec.js';

/** Inside the guest, on its root file system — the virtio disk (/dev/vda). */
export const GUEST_DATA_DIRECTORY = '/var/lib/isobench-data';
/** The guest's root, the virtio-blk disk; provisioning checks that GUEST_DATA_DIRECTORY is on it. */
export const GUEST_ROOT_DEVICE = '/dev/vda';
/** Deadline of each command in the guest, in ms (a guest-exec round trip is ~100 ms under TCG). */
const GUEST_STEP_TIMEOUT_MS = 30_000;

/** Where a directory is mounted from, as `findmnt -n -o SOURCE,FSTYPE` prints it. */
export interface GuestMount {
  /** The block device (or other source), e.g. `/dev/vda`. */
  device: string;
  /** The file system type, e.g. `ext4`. */
  fstype: string;
}

/**
 * Parses `findmnt -n -o SOURCE,FSTYPE --target DIR`'s one line, e.g. `/dev/vda ext4`.
 * @throws Error quoting the text when it is not exactly two fields on one line.
 */
export function parseFindmntSource(text: string): GuestMount {
  const lines = text.trim().split('\n').filter((line) => line.trim() !== '');
  const fields = lines.length === 1 ? lines[0]!.trim().split(/\s+/) : [];
  if (fields.length !== 2) throw new Error(`not a findmnt SOURCE,FSTYPE line: "${text.trim().slice(0, 200)}"`);
  return { device: fields[0]!, fstype: fields[1]! };
}

/**
 * Makes GUEST_DATA_DIRECTORY in the guest (`mkdir -p`) and checks with findmnt that it is on
 * GUEST_ROOT_DEVICE.
 * @param exec Runs a program in the guest (the guest agent's exec).
 * @returns The mount it is on; the caller labels the storage with its `fstype` (ext4 from the image).
 * @throws Error when mkdir or findmnt fails, or the directory is on another device (findmnt quoted).
 */
export async function prepareGuestDataDirectory(exec: (command: readonly string[], options?: CommandOptions) => Promise<CommandOutcome>): Promise<GuestMount> {
  const made = await exec(['mkdir', '-p', GUEST_DATA_DIRECTORY], { timeoutMs: GUEST_STEP_TIMEOUT_MS });
  if (!made.ok) throw new Error(`mkdir ${GUEST_DATA_DIRECTORY} in the guest failed: ${describeFailure(made)}`);
  const source = await exec(['findmnt', '-n', '-o', 'SOURCE,FSTYPE', '--target', GUEST_DATA_DIRECTORY], { timeoutMs: GUEST_STEP_TIMEOUT_MS });
  let mount: GuestMount | null = null;
  try {
    mount = source.ok ? parseFindmntSource(source.stdout) : null;
  } catch {
    // Quoted below.
  }
  if (!mount || mount.device !== GUEST_ROOT_DEVICE) {
    throw new Error(`${GUEST_DATA_DIRECTORY} is not on the virtio disk ${GUEST_ROOT_DEVICE} (findmnt: ${source.stdout.trim() || source.stderr.trim() || `exit ${source.exitCode ?? source.signal}`})`);
  }
  return mount;
}
