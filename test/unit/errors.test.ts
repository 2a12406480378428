import assert from 'node:assert/strict';
import { test } from 'node:test';
import { exitCodeOf, IsobenchError, MissingToolError, StepError, UsageError } from '../../core/errors.js';
import { DockerStepError } from '../../provisioning/docker/client.js';
import { GuestStepError } from '../../provisioning/kvm/guest.js';
import { ResultsFormatError } from '../../results/schema.js';
import { ToolOutputError } from '../../suites/parse-error.js';

test('the exit code comes from the error: 2 for what the user can fix, 1 for the rest', () => {
  assert.equal(exitCodeOf(new UsageError('--reps takes a whole number')), 2);
  assert.equal(exitCodeOf(new MissingToolError('fio', 'fio', 'for the random-io suite')), 2);
  assert.equal(exitCodeOf(new ResultsFormatError('x.json', 'version: expected 1')), 2);
  assert.equal(exitCodeOf(new ToolOutputError('fio', 'not JSON')), 1);
  assert.equal(exitCodeOf(new StepError('starting dockerd', 'it exited')), 1);
  assert.equal(exitCodeOf(new Error('a bug')), 1);
  assert.equal(exitCodeOf('a thrown string'), 1);
});

test('every step error carries its cause and names its class', () => {
  const cause = new Error('ECONNREFUSED');
  const docker = new DockerStepError('finding the Docker daemon', 'nothing answers', { cause });
  assert.ok(docker instanceof StepError && docker instanceof IsobenchError);
  assert.equal(docker.message, 'finding the Docker daemon failed: nothing answers');
  assert.equal(docker.cause, cause);
  assert.equal(docker.name, 'DockerStepError');
  const guest = new GuestStepError('booting the guest', 'QEMU exited with code 0', '/tmp/serial.log', '', { cause });
  assert.equal(guest.message, 'booting the guest: QEMU exited with code 0; serial log kept at /tmp/serial.log');
  assert.equal(guest.step, 'booting the guest');
  assert.equal(guest.cause, cause);
  assert.equal(guest.name, 'GuestStepError');
});
