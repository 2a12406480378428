import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UsageError } from '../../core/errors.js';
import { findExecutable } from '../../core/tools.js';
import { LEFTOVER_SCANNERS } from '../../provisioning/leftovers.js';
import { allConfigurations, displayOf, optionsFor, parseTargetConfiguration } from '../../provisioning/targets/configuration.js';
import { DRIVERS, findDriver, TARGET_NAMES } from '../../provisioning/targets/index.js';
import { SUITES, SUITE_NAMES } from '../../suites/index.js';

const RUN_WIDE = { storage: 'volume', accel: 'auto', disk: 'raw', vcpus: 2, memoryMiB: 2048, vmManager: 'qemu', quick: true } as const;

describe('target registry', () => {
  it('names come from the driver objects, unique, in the papers order', () => {
    assert.deepEqual(TARGET_NAMES, DRIVERS.map((driver) => driver.name));
    assert.equal(new Set(TARGET_NAMES).size, TARGET_NAMES.length);
    // Non-empty, so the loops over DRIVERS below check something.
    for (const name of ['native', 'docker-host', 'docker-nat', 'kvm']) assert.ok(TARGET_NAMES.includes(name), name);
    const orders = DRIVERS.map((driver) => driver.display.order);
    assert.deepEqual(orders, [...orders].sort((a, b) => a - b), 'display order follows registry order');
  });

  it('every driver has display facts and values unique across its own options', () => {
    for (const driver of DRIVERS) {
      assert.match(driver.display.colour, /^#[0-9a-f]{6}$/, driver.name);
      const values = Object.values(driver.configurable).flat();
      assert.equal(new Set(values).size, values.length, `${driver.name}: a bare value must name one option`);
    }
  });

  it('cleanup scans every driver\'s leftovers (shared scanners once) and the network', () => {
    for (const driver of DRIVERS) if (driver.leftovers) assert.ok(LEFTOVER_SCANNERS.includes(driver.leftovers), driver.name);
    assert.equal(new Set(LEFTOVER_SCANNERS).size, LEFTOVER_SCANNERS.length);
    assert.ok(LEFTOVER_SCANNERS.some((scanner) => scanner.name === 'network'));
  });
});

describe('target configurations', () => {
  it('a bare value or key=value fixes an option, and the id is canonical', () => {
    const overlay = parseTargetConfiguration('docker-nat:overlay');
    assert.equal(overlay.id, 'docker-nat:overlay');
    assert.equal(optionsFor(overlay, RUN_WIDE).storage, 'overlay');
    assert.equal(parseTargetConfiguration('docker-nat:storage=overlay').id, 'docker-nat:overlay');
    const kvm = parseTargetConfiguration('kvm:tcg:disk=qcow2');
    assert.equal(kvm.id, 'kvm:qcow2:tcg');
    assert.deepEqual({ ...optionsFor(kvm, RUN_WIDE), quick: undefined }, { ...RUN_WIDE, disk: 'qcow2', accel: 'tcg', quick: undefined });
    assert.equal(parseTargetConfiguration('native').id, 'native');
  });

  it('an unknown driver, option or value is a usage error naming what the driver takes', () => {
    assert.throws(() => parseTargetConfiguration('podman'), (error: unknown) => error instanceof UsageError && error.message === `unknown target "podman": choose from ${TARGET_NAMES.join(', ')} or all`);
    assert.throws(() => parseTargetConfiguration('docker-nat:qcow2'), /"qcow2" is not an option of docker-nat \(docker-nat takes storage=volume\|overlay\)/);
    assert.throws(() => parseTargetConfiguration('native:overlay'), /native takes no options/);
    assert.throws(() => parseTargetConfiguration('kvm:disk=zfs'), /"disk=zfs" is not an option of kvm/);
    assert.throws(() => parseTargetConfiguration('kvm:raw:qcow2'), /disk is set twice/);
  });

  it('configurations of one driver keep its family colour and sort right after it', () => {
    const plain = displayOf('docker-nat')!;
    const overlay = displayOf('docker-nat:overlay')!;
    assert.notEqual(overlay.colour, plain.colour);
    assert.ok(overlay.order > plain.order && overlay.order < displayOf('kvm')!.order);
    assert.equal(displayOf('podman'), null);
    // --target all is every target but the opt-in ones (runc-criu runs only the migration suite).
    assert.deepEqual(allConfigurations().map((configuration) => configuration.id), TARGET_NAMES.filter((name) => name !== 'runc-criu'));
    assert.ok(TARGET_NAMES.includes('runc-criu'), 'runc-criu is registered and can be named');
  });

  it('a named opt-in target is not refused for being opt-in: runc-criu is available wherever runc is', async () => {
    const runc = findDriver('runc-criu')!;
    const reason = await runc.defaultAvailability({} as Parameters<typeof runc.defaultAvailability>[0]);
    assert.equal(reason, (await findExecutable('runc')) ? null : 'runc is not installed (Debian package runc)');
    assert.doesNotMatch(String(reason), /opt-in/);
  });
});

describe('suite registry', () => {
  it('names and flags come from the suite objects and never collide', () => {
    assert.deepEqual(SUITE_NAMES, SUITES.map((suite) => suite.name));
    assert.equal(new Set(SUITE_NAMES).size, SUITE_NAMES.length);
    for (const name of ['tcp-bulk', 'tcp-rr', 'random-io', 'startup']) assert.ok(SUITE_NAMES.includes(name), name);
    const flags = SUITES.flatMap((suite) => suite.flags.map((flag) => flag.name));
    assert.equal(new Set(flags).size, flags.length);
  });

  it('every point passes its suite\'s params schema and names a headline with a direction', () => {
    for (const suite of SUITES) {
      const options = suite.options.parse({});
      for (const quick of [true, false]) {
        const points = suite.points({ quick, cores: 2, options });
        assert.ok(points.length > 0, `${suite.name} has points (quick ${quick})`);
        for (const point of points) {
          assert.ok(suite.params.safeParse(point.params).success, `${suite.name}/${point.id}`);
          assert.ok(point.headline.name && point.headline.unit, `${suite.name}/${point.id}`);
          assert.ok(['higher', 'lower'].includes(point.headline.direction));
        }
      }
    }
  });

  it('a port declared twice says the same protocols for the same port number only once per suite', () => {
    for (const suite of SUITES) {
      const ports = suite.ports.map((entry) => entry.port);
      assert.equal(new Set(ports).size, ports.length, suite.name);
    }
  });
});
