import assert from 'node:assert/strict';
import { test } from 'node:test';
import { labVhostDegraded } from '../../provisioning/kvm/lab/lab-kvm-target.js';
import { NO_VHOST_DEGRADED } from '../../provisioning/targets/kvm.js';

test('a lab guest\'s network label says, per host, whether /dev/vhost-net was there to use, not that it was never looked for', () => {
  assert.equal(labVhostDegraded([{ name: 'sut', facts: { vhostNet: false } }]), `${NO_VHOST_DEGRADED} (host sut has no /dev/vhost-net)`);
  assert.equal(
    labVhostDegraded([{ name: 'a', facts: { vhostNet: true } }, { name: 'b', facts: null }]),
    `${NO_VHOST_DEGRADED} (host a has /dev/vhost-net, which the lab guest does not use yet; host b's /dev/vhost-net was not read)`,
  );
});
