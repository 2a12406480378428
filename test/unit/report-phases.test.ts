import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { renderPage, type PageInput } from '../../reports/html/page.js';
import { phasesSection } from '../../reports/html/phases.js';
import { labelRuns } from '../../reports/model/runs.js';
import { TargetStyles } from '../../reports/model/targets.js';
import { formatPhaseMs, groupSessionPhases, phaseSessions } from '../../results/phases.js';
import type { ResultsFile } from '../../results/schema.js';
import { KILLED, RESUMED, resultsFixture, resumedRun } from './phase-fixtures.js';
import { readResultsFile } from '../../results/store.js';

/** A file written before isobench recorded phases. */
const OLD = resultsFixture('native-network-1rep.json');

describe('report: where the time went', () => {
  /** The rows of the section's table as text: header cell, then the other cells, tags dropped. */
  function rows(section: string): string[][] {
    return [...section.matchAll(/<tr[^>]*>([\s\S]*?)<\/tr>/g)].map((row) => [...row[1]!.matchAll(/<t[hd][^>]*>([\s\S]*?)<\/t[hd]>/g)].map((cell) => cell[1]!.replace(/<[^>]+>/g, '').trim()));
  }

  it('a resumed run: a heading per session with its time, a target\'s provision and prepare in one row, the total over both', async () => {
    const run = resumedRun(await readResultsFile(KILLED), '2026-11-30T10:40:00.000Z');
    const section = (phasesSection(labelRuns([run])) || { html: '' }).html;
    assert.deepEqual(rows(section), [
      ['phase', 'time', 'share', 'detail'],
      ['first session, started 2026-11-30 09:40:41 UTC: 11s'],
      ['installs', '0.0s', '&lt;0.1 %', ''],
      ['host probe', '0.2s', '0.5 %', ''],
      ['native: provision and prepare', '0.5s', '1.4 %', 'provision 0.0s · prepare random-io 0.5s'],
      ['trials', '11s', '31 %', 'the session ended without recording it (killed): the sum of the trials it recorded, a lower bound'],
      ['resume 1, started 2026-11-30 10:40:00 UTC: 24s'],
      ['installs', '0.0s', '&lt;0.1 %', ''],
      ['host probe', '0.2s', '0.5 %', ''],
      ['native: provision and prepare', '0.5s', '1.4 %', 'provision 0.0s · prepare random-io 0.5s'],
      ['trials', '22s', '62 %', ''],
      ['finish and teardown', '0.1s', '0.3 %', ''],
      ['report', '1.2s', '3.4 %', ''],
      ['total', '35s', '100 %', 'over 2 sessions with phases; the time between sessions, when nothing ran, is not counted'],
    ]);
    assert.equal(formatPhaseMs(run.phases!.reduce((sum, phase) => sum + phase.ms, 0)), '35s');
  });

  it('a real killed and resumed run: its two sessions, the recovered trials explained, the total 55s', async () => {
    const section = (phasesSection(labelRuns([await readResultsFile(RESUMED)])) || { html: '' }).html;
    const table = rows(section);
    assert.deepEqual(table.filter((row) => row.length === 1).map((row) => row[0]), ['first session, started 2026-11-30 19:31:26 UTC: 26s', 'resume 1, started 2026-11-30 19:32:01 UTC: 29s']);
    assert.deepEqual(table.filter((row) => row[0] === 'trials').map((row) => row.slice(1, 3)), [['26s', '47 %'], ['26s', '47 %']]);
    assert.match(table.find((row) => row[0] === 'trials')![3]!, /killed/);
    assert.deepEqual(table.at(-1)!.slice(0, 3), ['total', '55s', '100 %']);
  });

  it('one session: no session rows; the provision and prepare steps of a target folded, short steps counted', () => {
    const sessions = phaseSessions([
      { name: 'provision kvm', ms: 48_528 }, { name: 'prepare tcp-bulk on kvm', ms: 2 }, { name: 'prepare mysql on kvm', ms: 24_264 }, { name: 'prepare random-io on kvm', ms: 2_013 }, { name: 'trials', ms: 1_395_782 },
    ]);
    assert.deepEqual(sessions.map((session) => session.label), ['first session']);
    assert.deepEqual(groupSessionPhases(sessions[0]!.phases).map((group) => [group.label, group.ms, group.parts.length]), [['kvm', 74_807, 4], ['trials', 1_395_782, 0]]);
  });

  it('a file without phases renders exactly as before: no section, not a character added to the page', async () => {
    const old = await readResultsFile(OLD);
    assert.equal(old.phases, undefined, 'the fixture predates phases');
    assert.equal(phasesSection(labelRuns([old])), '');
    const input = (file: ResultsFile): PageInput => ({ title: 't', runs: labelRuns([file]), baseline: 'native', figures: [], vegaRuntime: null, generatedAt: '2026-11-30T00:00:00Z', styles: new TargetStyles() });
    const page = renderPage(input(old));
    assert.ok(!page.includes('Where the time went') && !page.includes('id="phases"'));
    // The same file with phases: the page differs by the section and nothing else.
    const timed = { ...old, phases: [{ name: 'installs', ms: 10 }, { name: 'trials', ms: 990 }] };
    const section = (phasesSection(labelRuns([timed])) || { html: '' }).html;
    assert.ok(section.length > 0);
    const withPhases = renderPage(input(timed));
    assert.equal(withPhases.replace(section, ''), page);
    assert.ok(withPhases.indexOf(section) > withPhases.indexOf('<section id="environment">'), 'after the environment section');
  });
});
