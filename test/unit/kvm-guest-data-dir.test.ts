import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { CommandOutcome } from '../../core/exec.js';
import { GUEST_DATA_DIRECTORY, parseFindmntSource, prepareGuestDataDirectory } from '../../provisioning/kvm/guest-data-dir.js';

/** A guest agent's exec that answers mkdir and findmnt as told, and records what it ran. */
function fakeGuest(findmnt: Partial<CommandOutcome>, mkdir: Partial<CommandOutcome> = {}) {
  const ran: string[][] = [];
  const exec = async (command: readonly string[]): Promise<CommandOutcome> => {
    ran.push([...command]);
    const answer = command[0] === 'mkdir' ? mkdir : findmnt;
    return { command, ok: true, exitCode: 0, signal: null, timedOut: false, stdout: '', stderr: '', durationMs: 1, ...answer };
  };
  return { exec, ran };
}

test('parseFindmntSource: the device and file system of findmnt -n -o SOURCE,FSTYPE, or an error quoting the text', () => {
  assert.deepEqual(parseFindmntSource('/dev/vda ext4\n'), { device: '/dev/vda', fstype: 'ext4' });
  assert.deepEqual(parseFindmntSource('  tmpfs   tmpfs  '), { device: 'tmpfs', fstype: 'tmpfs' });
  assert.throws(() => parseFindmntSource(''), /not a findmnt SOURCE,FSTYPE line: ""/);
  assert.throws(() => parseFindmntSource('/dev/vda'), /not a findmnt SOURCE,FSTYPE line: "\/dev\/vda"/);
  assert.throws(() => parseFindmntSource('/dev/vda ext4\n/dev/vdb xfs'), /not a findmnt/);
});

test('prepareGuestDataDirectory: makes the directory and returns its mount when it is on the virtio disk', async () => {
  const guest = fakeGuest({ stdout: '/dev/vda ext4\n' });
  assert.deepEqual(await prepareGuestDataDirectory(guest.exec), { device: '/dev/vda', fstype: 'ext4' });
  assert.deepEqual(guest.ran, [['mkdir', '-p', GUEST_DATA_DIRECTORY], ['findmnt', '-n', '-o', 'SOURCE,FSTYPE', '--target', GUEST_DATA_DIRECTORY]]);
});

test('prepareGuestDataDirectory: a directory off the virtio disk, a findmnt or mkdir that fails, is an error saying what it saw', async () => {
  await assert.rejects(prepareGuestDataDirectory(fakeGuest({ stdout: 'tmpfs tmpfs\n' }).exec), /^Error: \/var\/lib\/isobench-data is not on the virtio disk \/dev\/vda \(findmnt: tmpfs tmpfs\)$/);
  await assert.rejects(prepareGuestDataDirectory(fakeGuest({ ok: false, exitCode: 1, stderr: 'findmnt: not found\n' }).exec), /is not on the virtio disk \/dev\/vda \(findmnt: findmnt: not found\)$/);
  await assert.rejects(prepareGuestDataDirectory(fakeGuest({ ok: false, exitCode: 1 }).exec), /\(findmnt: exit 1\)$/);
  await assert.rejects(
    prepareGuestDataDirectory(fakeGuest({ stdout: '/dev/vda ext4\n' }, { ok: false, exitCode: 1, stderr: 'mkdir: cannot create directory: Read-only file system\n' }).exec),
    /^Error: mkdir \/var\/lib\/isobench-data in the guest failed: `mkdir -p \/var\/lib\/isobench-data` exited with code 1: mkdir: cannot create directory: Read-only file system$/,
  );
});
