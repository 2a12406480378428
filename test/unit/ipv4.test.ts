import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cidrContains, cidrWithin, cidrsOverlap, formatCidr, hostAddress, parseAddress, parseCidr } from '../../provisioning/ipv4.js';

test('parses and formats addresses and ranges', () => {
  assert.equal(formatCidr(parseCidr('198.18.0.0/15')), '198.18.0.0/15');
  assert.equal(hostAddress(parseCidr('198.18.0.0/24'), 1), '198.18.0.1');
  assert.equal(hostAddress(parseCidr('198.18.4.0/24'), 10), '198.18.4.10');
});

test('containment and overlap', () => {
  const guard = parseCidr('198.18.0.0/15');
  assert.ok(cidrContains(guard, parseAddress('198.19.255.255')));
  assert.ok(!cidrContains(guard, parseAddress('198.20.0.0')));
  assert.ok(cidrWithin(parseCidr('198.18.0.0/24'), guard));
  assert.ok(!cidrWithin(parseCidr('10.0.0.0/24'), guard));
  assert.ok(cidrsOverlap(parseCidr('198.0.0.0/8'), guard));
  assert.ok(!cidrsOverlap(parseCidr('172.17.0.0/16'), guard));
});

test('bad input is refused with a hint', () => {
  assert.throws(() => parseCidr('198.18.0.1/24'), /host bits set \(did you mean 198\.18\.0\.0\/24\?\)/);
  assert.throws(() => parseCidr('198.18.0.0'), /not an IPv4 range/);
  assert.throws(() => parseAddress('300.1.1.1'), /not an IPv4 address/);
  assert.throws(() => hostAddress(parseCidr('198.18.0.0/30'), 3), /no host number 3/);
});
