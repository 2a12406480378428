import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startBackground } from '../../core/exec.js';
import { cloneDiskImage, ensureDiskImage } from '../../provisioning/image/disk.js';
import { guestKernelCommandLine } from '../../provisioning/image/guest-boot.js';
import { findExecutable } from '../../core/tools.js';
import { GUEST_AGENT_PORT_NAME, GUEST_READY_MARKER } from '../../provisioning/image/recipe.js';
import { ensureRootfs } from '../../provisioning/image/rootfs.js';

/**
 * Boots the recipe's disk image under emulation (TCG: KVM is not trusted on the development
 * machines) into the isobench init and checks the contract the KVM target relies on: the ready
 * marker on the serial console, and a guest agent that answers and runs a program. The guest has
 * no network device at all (-nic none), so it cannot send anything anywhere.
 */

const BOOT_TIMEOUT_MS = 60_000;

async function whyCannotBoot(): Promise<string | undefined> {
  if (process.getuid?.() !== 0) return 'building the image needs root; run the integration tests as root';
  if (!(await findExecutable('qemu-system-x86_64'))) return 'qemu-system-x86_64 is not installed (Debian package qemu-system-x86)';
  if (!(await findExecutable('debootstrap'))) return 'debootstrap is not installed (Debian package debootstrap)';
  if (!(await findExecutable('mkfs.ext4'))) return 'mkfs.ext4 is not installed (Debian package e2fsprogs)';
  return undefined;
}

test('the guest boots into the isobench init, prints the ready marker and runs fio through the guest agent', { skip: await whyCannotBoot(), timeout: 30 * 60_000 }, async () => {
  const rootfs = await ensureRootfs({ log: (line) => console.log(`# image: ${line}`) });
  const image = await ensureDiskImage(rootfs.tree, rootfs.recipeHash, 'raw');
  const work = await mkdtemp(path.join(tmpdir(), 'isobench-boot-'));
  const consoleLog = path.join(work, 'console.log');
  const agentSocket = path.join(work, 'qga.sock');
  const qemu = startBackground(
    [
      (await findExecutable('qemu-system-x86_64')) as string,
      '-accel', 'tcg',
      '-m', '1024',
      '-display', 'none',
      '-no-reboot',
      '-nic', 'none',
      '-serial', `file:${consoleLog}`,
      '-kernel', image.kernel,
      '-initrd', image.initrd,
      '-append', guestKernelCommandLine({ address: '198.18.0.10/24' }),
      // the guest writes to its disk: boot a private copy, never the cached image
      '-drive', `file=${await cloneDiskImage(image, path.join(work, 'disk.raw'))},if=virtio,format=raw`,
      '-device', 'virtio-serial',
      '-chardev', `socket,path=${agentSocket},server=on,wait=off,id=qga0`,
      '-device', `virtserialport,chardev=qga0,name=${GUEST_AGENT_PORT_NAME}`,
    ],
    { timeoutMs: BOOT_TIMEOUT_MS + 60_000 },
  );
  try {
    const started = performance.now();
    const readyLine = await waitForConsoleLine(consoleLog, GUEST_READY_MARKER, BOOT_TIMEOUT_MS, qemu.exited);
    console.log(`# boot: "${readyLine}" after ${((performance.now() - started) / 1000).toFixed(1)} s`);
    assert.match(readyLine, /agent=\/dev\/vport\d+p\d+/, 'the init found the agent port and started qemu-ga');

    const agent = await GuestAgent.connect(agentSocket);
    try {
      await agent.sync(20_000);
      const fio = await agent.exec('/usr/bin/fio', ['--version'], 30_000);
      assert.equal(fio.exitcode, 0);
      assert.match(fio.stdout, /^fio-\d/);
      const kernel = await agent.exec('/usr/bin/cat', ['/proc/cmdline'], 30_000);
      assert.match(kernel.stdout, /isobench\.addr=198\.18\.0\.10\/24/);
    } finally {
      agent.close();
    }
    const consoleText = await readFile(consoleLog, 'utf8');
    assert.doesNotMatch(consoleText, /Kernel panic/);
  } finally {
    await qemu.stop();
    await rm(work, { recursive: true, force: true });
  }
});

async function waitForConsoleLine(file: string, marker: string, timeoutMs: number, exited: Promise<unknown>): Promise<string> {
  let qemuExited = false;
  void exited.then(() => {
    qemuExited = true;
  });
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const text = await readFile(file, 'utf8').catch(() => '');
    const line = text.split('\n').find((candidate) => candidate.includes(marker));
    if (line) return line.trim();
    if (qemuExited) throw new Error(`QEMU exited before the guest was ready; console:\n${text.slice(-2000)}`);
    await sleep(250);
  }
  const text = await readFile(file, 'utf8').catch(() => '');
  throw new Error(`no ${marker} on the console within ${timeoutMs / 1000} s; last console lines:\n${text.slice(-2000)}`);
}

interface ExecResult {
  exitcode: number;
  stdout: string;
  stderr: string;
}

/** Just enough of the QEMU guest agent protocol (JSON lines over the virtio-serial socket). */
class GuestAgent {
  private buffer = '';
  private readonly waiting: Array<(line: string) => void> = [];
  private readonly lines: string[] = [];

  private constructor(private readonly socket: Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      this.buffer += chunk;
      let newline: number;
      while ((newline = this.buffer.indexOf('\n')) !== -1) {
        const line = this.buffer.slice(0, newline).replace(/^\xff/, '').trim();
        this.buffer = this.buffer.slice(newline + 1);
        if (!line) continue;
        const waiter = this.waiting.shift();
        if (waiter) waiter(line);
        else this.lines.push(line);
      }
    });
  }

  static connect(socketPath: string): Promise<GuestAgent> {
    return new Promise((resolve, reject) => {
      const socket = connect(socketPath, () => resolve(new GuestAgent(socket)));
      socket.once('error', reject);
    });
  }

  /** guest-sync until the agent answers with our id: it discards anything stale in the channel. */
  async sync(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const id = Math.floor(Math.random() * 1_000_000);
    while (Date.now() < deadline) {
      this.socket.write(`${JSON.stringify({ execute: 'guest-sync', arguments: { id } })}\n`);
      const answer = await this.nextLine(2_000).catch(() => undefined);
      if (answer && (JSON.parse(answer) as { return?: number }).return === id) return;
    }
    throw new Error(`the guest agent did not answer guest-sync within ${timeoutMs / 1000} s`);
  }

  async exec(program: string, args: string[], timeoutMs: number): Promise<ExecResult> {
    const { pid } = await this.call<{ pid: number }>('guest-exec', { path: program, arg: args, 'capture-output': true });
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const status = await this.call<{ exited: boolean; exitcode?: number; 'out-data'?: string; 'err-data'?: string }>('guest-exec-status', { pid });
      if (status.exited) {
        return {
          exitcode: status.exitcode ?? -1,
          stdout: Buffer.from(status['out-data'] ?? '', 'base64').toString('utf8'),
          stderr: Buffer.from(status['err-data'] ?? '', 'base64').toString('utf8'),
        };
      }
      await sleep(200);
    }
    throw new Error(`${program} did not finish in the guest within ${timeoutMs / 1000} s`);
  }

  close(): void {
    this.socket.destroy();
  }

  private async call<T>(command: string, args: Record<string, unknown>): Promise<T> {
    this.socket.write(`${JSON.stringify({ execute: command, arguments: args })}\n`);
    for (;;) {
      const answer = JSON.parse(await this.nextLine(10_000)) as { return?: T | number; error?: { desc: string } };
      // a late answer to an earlier guest-sync attempt: not ours
      if (typeof answer.return === 'number') continue;
      if (answer.error) throw new Error(`${command}: ${answer.error.desc}`);
      return answer.return as T;
    }
  }

  private nextLine(timeoutMs: number): Promise<string> {
    const queued = this.lines.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    return new Promise((resolve, reject) => {
      const waiter = (line: string) => {
        clearTimeout(timer);
        resolve(line);
      };
      const timer = setTimeout(() => {
        const index = this.waiting.indexOf(waiter);
        if (index !== -1) this.waiting.splice(index, 1);
        reject(new Error('no answer from the guest agent'));
      }, timeoutMs);
      this.waiting.push(waiter);
    });
  }
}
