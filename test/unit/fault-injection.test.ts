import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { descendantsOf, diffSnapshots, orphansAlive } from '../../bench-tools/fault-injection/diff.js';
import { benchArguments, drawDelayMs } from '../../bench-tools/fault-injection/inject.js';
import { countDuplicates, iptablesItems, nftRulesetItems, routeItem, type HostSnapshot } from '../../bench-tools/fault-injection/snapshot.js';

const fixture = (name: string) => readFileSync(new URL(`../fixtures/fault-injection/${name}`, import.meta.url), 'utf8');

test('iptables-save output becomes table-prefixed rules and policies, counters dropped', () => {
  const items = iptablesItems(fixture('iptables-save.txt'));
  assert.equal(items.length, 27); // 15 filter + 12 nat lines of the capture (chains and rules)
  assert.ok(items.includes('filter :FORWARD DROP'), items.join('\n'));
  assert.ok(items.includes('nat -A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER'));
  assert.ok(items.every((item) => !/\[\d+:\d+\]/.test(item)), 'no packet counters: they change on their own');
  // A rule isobench left, as the crash would leave it, is one new item.
  const withRule = fixture('iptables-save.txt').replace('-A DOCKER-USER -j RETURN', '-A DOCKER-USER -i ib-br0 -o ib-br0 -m comment --comment isobench -j ACCEPT\n-A DOCKER-USER -j RETURN');
  const added = iptablesItems(withRule).filter((item) => !items.includes(item));
  assert.deepEqual(added, ['filter -A DOCKER-USER -i ib-br0 -o ib-br0 -m comment --comment isobench -j ACCEPT']);
});

test('nft list ruleset becomes items that say where they sit; counters and handles dropped', () => {
  // Captured here (nftables 1.0.6, Debian 12, Docker's rules through iptables-nft): plain, and 40 min
  // later with `nft -a`, after other work had removed its lab bridge's FORWARD rule and traffic had
  // moved the counters.
  const items = nftRulesetItems(fixture('nft-list-ruleset.txt'));
  assert.equal(items.length, 31); // 2 tables, 9 chains, 20 statements (policies and rules)
  assert.ok(items.includes('table ip filter > chain DOCKER'), 'an empty chain is an item: one left behind is seen');
  assert.ok(items.includes('table ip filter > chain FORWARD: type filter hook forward priority filter; policy drop;'));
  assert.ok(items.includes('table ip nat > chain PREROUTING: fib daddr type local counter jump DOCKER'));
  assert.ok(items.every((item) => !/packets|bytes|handle|\d{4,}/.test(item)), items.join('\n'));
  const later = { takenAt: 't1', categories: { nftables: { kind: 'listed' as const, items: nftRulesetItems(fixture('nft-list-ruleset-handles.txt')) } } };
  const diff = diffSnapshots({ takenAt: 't0', categories: { nftables: { kind: 'listed', items } } }, later);
  assert.deepEqual(diff.leaks, [], 'handles and counters that moved are no difference');
  assert.deepEqual(diff.removed.map((entry) => entry.item), ['table ip filter > chain FORWARD: iifname "islab-br" oifname "islab-br" counter accept']);
});

test('an nft rule, chain, set or table left behind is a new item, named with its table and chain', () => {
  // Captured here right after adding isobench's DOCKER-USER rule with iptables (-m comment --comment
  // isobench: iptables-nft 1.8.9 keeps the comment where nft 1.0.6 does not print it) and a table with
  // a set of timed elements and an empty chain; the clean side is the `nft -a` capture beside it.
  const before = { takenAt: 't0', categories: { nftables: { kind: 'listed' as const, items: nftRulesetItems(fixture('nft-list-ruleset-handles.txt')) } } };
  const after = { takenAt: 't1', categories: { nftables: { kind: 'listed' as const, items: nftRulesetItems(fixture('nft-list-ruleset-leftovers.txt')) } } };
  const diff = diffSnapshots(before, after);
  assert.deepEqual(diff.leaks.map((leak) => leak.item), [
    'table ip filter > chain DOCKER-USER: iifname "ib-br0" oifname "ib-br0" counter accept',
    'table inet wtscanfix',
    'table inet wtscanfix > set guarded',
    'table inet wtscanfix > set guarded: type ipv4_addr',
    'table inet wtscanfix > set guarded: flags interval,timeout',
    // `expires 59s988ms` counts down on its own: dropped; the configured timeout stays.
    'table inet wtscanfix > set guarded: elements = { 198.18.0.0/16 timeout 1m, 198.19.254.0/24 timeout 1m }',
    'table inet wtscanfix > chain left',
  ]);
  assert.deepEqual(diff.removed, []);
});

test('a duplicated item is counted, so one leaked copy of a rule is still seen', () => {
  assert.deepEqual(countDuplicates(['a', 'b', 'a', 'a']), ['a', 'b', 'a (#2)', 'a (#3)']);
});

test('routes of every table read from `ip -j route show table all` as stable text', () => {
  const routes = (JSON.parse(fixture('ip-route-all.json')) as Array<Record<string, string>>).map(routeItem);
  assert.equal(routes[0], 'unicast default via 192.0.2.1 dev eth0 table main');
  assert.ok(routes.includes('local 127.0.0.1 dev lo table local proto kernel src 127.0.0.1'));
  assert.equal(routeItem({ type: 'unreachable', dst: '198.18.0.0/15' }), 'unreachable 198.18.0.0/15 table main');
});

const snapshot = (categories: HostSnapshot['categories']): HostSnapshot => ({ takenAt: '2026-11-30T09:00:00Z', categories });

test('the diff names what appeared as leaks, what went as removed, and unreadable categories as unverified', () => {
  const before = snapshot({
    netns: { kind: 'listed', items: ['bystander'] },
    links: { kind: 'listed', items: ['eth0', 'old0'] },
    nftables: { kind: 'unavailable', reason: 'nft not installed' },
    'docker-containers': { kind: 'listed', items: [] },
  });
  const after = snapshot({
    netns: { kind: 'listed', items: ['bystander', 'isobench-client'] },
    links: { kind: 'listed', items: ['eth0'] },
    nftables: { kind: 'unavailable', reason: 'nft not installed' },
    'docker-containers': { kind: 'unavailable', reason: 'Cannot connect to the Docker daemon' },
  });
  const diff = diffSnapshots(before, after);
  assert.deepEqual(diff.leaks, [{ category: 'netns', item: 'isobench-client' }]);
  assert.deepEqual(diff.removed, [{ category: 'links', item: 'old0' }]);
  assert.deepEqual(diff.unverified.map((entry) => entry.category), ['docker-containers', 'nftables']);
  assert.deepEqual(diffSnapshots(before, before).leaks, [], 'no change, no leak');
});

test('an orphan counts only while the same process (pid and start time) lives, zombies not', () => {
  const recorded = [{ pid: 10, startTime: '500', comm: 'iperf3' }, { pid: 11, startTime: '501', comm: 'sockperf' }, { pid: 12, startTime: '502', comm: 'fio' }];
  const now = [{ pid: 10, startTime: '500', state: 'S' }, { pid: 11, startTime: '999', state: 'S' }, { pid: 12, startTime: '502', state: 'Z' }];
  assert.deepEqual(orphansAlive(recorded, now), [{ category: 'orphan', item: 'pid 10 iperf3 (a child of the killed run)' }]);
});

test('the killed run\'s descendants are its children and theirs, not itself or its siblings', () => {
  const table = [{ pid: 1, ppid: 0 }, { pid: 100, ppid: 1 }, { pid: 101, ppid: 100 }, { pid: 102, ppid: 101 }, { pid: 200, ppid: 1 }];
  assert.deepEqual(descendantsOf(100, table).map((entry) => entry.pid), [101, 102]);
  assert.deepEqual(descendantsOf(200, table), []);
});

test('the bench runs the shortest settings: one quick repetition, no adaptive rounds, no quiet wait', () => {
  const args = benchArguments({ target: 'kvm', suite: 'mysql', seed: 3, outDirectory: '/tmp/x' });
  assert.deepEqual(args.slice(0, 11), ['bench', '--target', 'kvm', '--suite', 'mysql', '--quick', '--reps', '1', '--no-until-decided', '--quiet-wait', '0']);
  assert.ok(args.includes('--table-size') && args.includes('--duration'));
  assert.ok(!benchArguments({ target: 'native', suite: 'tcp-rr', seed: 3, outDirectory: '/tmp/x' }).includes('--threads'), 'mysql flags only for mysql');
});

test('kill moments: seeded, within [0.5 s, the guess], and spread over the run', () => {
  const moments = Array.from({ length: 200 }, (_, index) => drawDelayMs(101, index, 1, 20));
  assert.deepEqual(moments.slice(0, 5), Array.from({ length: 5 }, (_, index) => drawDelayMs(101, index, 1, 20)), 'the same seed gives the same moments');
  assert.ok(moments.every((ms) => ms >= 500 && ms <= 20_000));
  assert.ok(moments.filter((ms) => ms < 10_000).length > 60 && moments.filter((ms) => ms >= 10_000).length > 60, 'both halves of the run are hit');
  assert.notEqual(drawDelayMs(101, 3, 1, 20), drawDelayMs(101, 3, 2, 20), 'a second draw is another moment');
  assert.notEqual(drawDelayMs(101, 3, 1, 20), drawDelayMs(102, 3, 1, 20), 'another seed, another moment');
});
