import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { DENY_ALL_POLICY, missingTools, withServiceStartsDenied } from '../../core/tools.js';

test('service starts are denied while the work runs (policy-rc.d exits 101), and the hook is gone afterwards, failure or not', async () => {
  const path = join(await mkdtemp(join(tmpdir(), 'isobench-policy-')), 'policy-rc.d');
  const seen = await withServiceStartsDenied(async () => ({ text: await readFile(path, 'utf8'), mode: (await stat(path)).mode & 0o777 }), path);
  assert.equal(seen.text, DENY_ALL_POLICY);
  assert.match(seen.text, /^#!\/bin\/sh\n[\s\S]*\nexit 101\n$/);
  assert.equal(seen.mode, 0o755);
  assert.equal(existsSync(path), false);
  await assert.rejects(withServiceStartsDenied(async () => { throw new Error('apt-get failed'); }, path), /apt-get failed/);
  assert.equal(existsSync(path), false);
});

test('a policy the host already has is left alone and decides', async () => {
  const path = join(await mkdtemp(join(tmpdir(), 'isobench-policy-')), 'policy-rc.d');
  await writeFile(path, '#!/bin/sh\nexit 0\n', { mode: 0o755 });
  await withServiceStartsDenied(async () => assert.equal(await readFile(path, 'utf8'), '#!/bin/sh\nexit 0\n'), path);
  assert.equal(await readFile(path, 'utf8'), '#!/bin/sh\nexit 0\n');
});

test('a requirement named by an absolute path (a -dev package\'s header) is met when the file exists, not looked up on PATH', async () => {
  const directory = await mkdtemp(join(tmpdir(), 'isobench-tools-'));
  const header = join(directory, 'uuid.h');
  await writeFile(header, '/* not executable */\n', { mode: 0o644 });
  const requirement = (command: string) => ({ command, debianPackage: 'uuid-dev', why: 'to build CRIU' });
  assert.deepEqual(await missingTools([requirement(header)]), [], 'a plain file is enough');
  assert.deepEqual(await missingTools([requirement(join(directory, 'absent.h'))]), [requirement(join(directory, 'absent.h'))]);
  assert.deepEqual(await missingTools([requirement('uuid.h')]), [requirement('uuid.h')], 'a bare name is a command on PATH');
});

test('cleanup removes the hook a killed install left only when it is isobench\'s text and no install runs', async () => {
  const { servicePolicyLeftovers } = await import('../../provisioning/leftovers.js');
  const { undoResource } = await import('../../core/ledger.js');
  const path = join(await mkdtemp(join(tmpdir(), 'isobench-policy-')), 'policy-rc.d');
  const idle = async () => false;
  assert.deepEqual(await servicePolicyLeftovers(path, idle).find(), [], 'no hook, nothing to remove');
  // What a run killed inside withServiceStartsDenied leaves: isobench's own text.
  await writeFile(path, DENY_ALL_POLICY, { mode: 0o755 });
  assert.deepEqual(await servicePolicyLeftovers(path, async () => true).find(), [], 'an install under way still needs it');
  const found = await servicePolicyLeftovers(path, idle).find();
  assert.equal(found.length, 1);
  assert.match(found[0]!.description, /service-start policy .*policy-rc\.d/);
  await undoResource(found[0]!.undo);
  assert.equal(existsSync(path), false);
  // The administrator's own hook, even one that also exits 101, is never isobench's.
  for (const text of ['#!/bin/sh\nexit 101\n', `${DENY_ALL_POLICY}# local change\n`]) {
    await writeFile(path, text, { mode: 0o755 });
    assert.deepEqual(await servicePolicyLeftovers(path, idle).find(), [], text);
  }
  assert.equal(await readFile(path, 'utf8'), `${DENY_ALL_POLICY}# local change\n`);
});
