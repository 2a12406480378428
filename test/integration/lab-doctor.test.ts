/**
 * `npm run doctor -- --hosts FILE` against lab hosts in namespaces with their own sshd
 * (lab-hosts.ts), and one host nothing answers. Root; under a minute (the accel probe may wait
 * 15 s per host where /dev/kvm hangs). Run under `flock /tmp/isobench-heavy.lock`.
 */
import assert from 'node:assert/strict';
import { appendFile } from 'node:fs/promises';
import { test } from 'node:test';
import { runCli } from '../helpers.js';
import { createLab, sweepLabLeftovers } from './lab-hosts.js';

const skip = process.getuid?.() === 0 ? false : 'needs root to create network namespaces';

test('doctor --hosts checks every host, measures the clock offsets, reaches libvirtd over qemu+ssh://, and names the host it cannot reach', { skip, timeout: 240_000 }, async () => {
  // sut has a libvirtd of its own; peer's sessions see this machine's /run/libvirt (a libvirtd may answer there or not).
  const lab = await createLab([{ name: 'sut', roles: ['server'], libvirt: true }, { name: 'peer', roles: ['client'] }]);
  try {
    await appendFile(lab.inventoryPath, `  - name: ghost\n    ssh: root@${lab.unreachableAddress}\n    test-address: ${lab.unreachableAddress}\n    roles: []\n`);
    const { code, stdout, stderr } = await runCli(['doctor', '--hosts', lab.inventoryPath], 170_000);
    console.log(stdout.split('\n').map((line) => `# ${line}`).join('\n'));
    assert.equal(code, 1, stderr);
    assert.match(stderr, new RegExp(`^isobench: host ghost: unreachable: ssh: connect to host ${lab.unreachableAddress.replace(/\./g, '\\.')} port 22`));
    for (const name of ['sut', 'peer']) {
      const block = stdout.split(/^host /m).find((part) => part.startsWith(`${name} `))!;
      assert.ok(block, `a block for ${name}`);
      assert.match(block, /reachable +yes/);
      assert.match(block, /kernel \/ distro +\S+ \/ Debian/);
      assert.match(block, /KVM +(works|fails|hangs|not probed)/);
      assert.match(block, /tools +.*iperf 3/);
      // Namespaces share this machine's clock: the true offset is 0, and it must lie inside the bound.
      const offset = /clock offset +([+−])([\d.]+) ms ± ([\d.]+) ms/.exec(block);
      assert.ok(offset, block);
      assert.ok(Number(offset[2]) <= Number(offset[3]), `|offset| ${offset[2]} within ± ${offset[3]}`);
      assert.ok(Number(offset[3]) < 25, `a bound of ± ${offset[3]} ms: one line over the open session, not an ssh start-up`);
    }
    const uriOf = (index: number) => `qemu\\+ssh://root@${lab.hosts[index]!.address.replace(/\./g, '\\.')}/system`;
    // On the host itself too (virsh version --daemon there; without --daemon virsh 9.0 prints no daemon line).
    assert.match(stdout, /host sut [^\n]*\n( {2}.*\n)* {2}libvirtd +\d+\.\d+\.\d+\n/);
    assert.match(stdout, new RegExp(`host sut [^\\n]*\\n(  .*\\n)*  libvirt from here +libvirt \\d+\\.\\d+\\.\\d+, QEMU \\S+ through ${uriOf(0)}\\n`));
    assert.match(stdout, new RegExp(`host peer [^\\n]*\\n(  .*\\n)*  libvirt from here +(libvirt \\S+, QEMU \\S+ through ${uriOf(1)}|no: libvirtd does not answer on ${uriOf(1)} \\(.+\\))\\n`));
    assert.match(stdout, /clock offsets between hosts .*\n {2}peer − sut: [+−][\d.]+ ms ± [\d.]+ ms/);
    assert.match(stdout, /host ghost .*\n {2}reachable +no: host ghost: unreachable/);
  } finally {
    await lab.teardown();
  }
  assert.deepEqual(await sweepLabLeftovers(), []);
});
