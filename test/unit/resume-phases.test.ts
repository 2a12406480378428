import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { nextResumeSession, resumedSessions } from '../../harness/resume.js';
import { phaseLines } from '../../harness/phases.js';
import type { ResultsFile } from '../../results/schema.js';
import { KILLED, RESUMED, resumedRun } from './phase-fixtures.js';
import { readResultsFile } from '../../results/store.js';

describe('a resumed run keeps every session\'s time', () => {
  it('a killed session\'s trials time is recovered from its trials at the resume, marked, and the earlier phases kept', async () => {
    const killed = await readResultsFile(KILLED);
    assert.deepEqual(killed.phases?.map((phase) => phase.name), ['installs', 'host probe', 'provision native', 'prepare random-io on native'], 'the killed session wrote no trials phase');
    const at = '2026-11-30T10:40:00.000Z';
    const { phases, resumes } = resumedSessions(killed, at);
    assert.deepEqual(phases!.slice(0, 4), killed.phases);
    // Its two trials: 5403.3 ms and 5350.8 ms.
    assert.deepEqual(phases![4], { name: 'trials', ms: 10_754, incomplete: 'recovered' });
    assert.equal(phases!.length, 5);
    assert.deepEqual(resumes, [{ session: 1, startedAt: at }]);
  });

  it('a session that recorded its trials phase (ended, or cut by a signal) gets nothing added', async () => {
    const killed = await readResultsFile(KILLED);
    const interrupted = { ...killed, phases: [...killed.phases!, { name: 'trials', ms: 11_300, incomplete: 'interrupted' as const }] };
    assert.deepEqual(resumedSessions(interrupted, '2026-11-30T10:40:00.000Z').phases, interrupted.phases);
  });

  it('a killed resumed session counts only the trials started since it began; a session whose start is not recorded gets nothing', async () => {
    const killed = await readResultsFile(KILLED);
    // Resume 1 began between the two trials (09:40:41.683 and 09:40:47.046), and was killed in turn.
    const once = { ...killed, phases: [...killed.phases!, { name: 'trials', ms: 5_351 }, { name: 'resume 1: installs', ms: 3 }], resumes: [{ session: 1, startedAt: '2026-11-30T09:40:45.000Z' }] };
    const twice = resumedSessions(once, '2026-11-30T10:41:00.000Z');
    assert.deepEqual(twice.phases!.at(-1), { name: 'resume 1: trials', ms: 5_403, incomplete: 'recovered' });
    assert.deepEqual(twice.resumes?.map((resume) => resume.session), [1, 2]);
    // Resumed by an isobench that did not record `resumes`: resume 1's trials cannot be told apart.
    const unrecorded: ResultsFile = { ...once };
    delete unrecorded.resumes;
    assert.deepEqual(resumedSessions(unrecorded, '2026-11-30T10:41:00.000Z').phases, once.phases);
  });

  it('the next session number counts a session that recorded no phase', () => {
    assert.equal(nextResumeSession({}), 1);
    assert.equal(nextResumeSession({ phases: [{ name: 'resume 1: installs', ms: 1 }] }), 2);
    // Resume 2 was killed before its first phase ended: only `resumes` knows it.
    assert.equal(nextResumeSession({ phases: [{ name: 'resume 1: installs', ms: 1 }], resumes: [{ session: 1, startedAt: 'a' }, { session: 2, startedAt: 'b' }] }), 3);
  });

  it('the terminal lines show each session and the total over both, the recovered trials said so', async () => {
    const run = resumedRun(await readResultsFile(KILLED), '2026-11-30T10:40:00.000Z');
    assert.deepEqual(phaseLines(run.phases!), [
      'phases, first session: installs 0.0s · host probe 0.2s · provision 0.0s (native 0.0s)',
      '        prepare 0.5s (1 step, longest random-io on native 0.5s)',
      '        trials 11s (killed: the sum of its trials) · session 11s',
      'phases, resume 1: installs 0.0s · host probe 0.2s · provision 0.0s (native 0.0s)',
      '        prepare 0.5s (1 step, longest random-io on native 0.5s) · trials 22s',
      '        finish and teardown 0.1s · report 1.2s · session 24s',
      'phases: total 35s over 2 sessions (the time between them, when nothing ran, not counted)',
    ]);
  });

  it('a real killed and resumed run: both sessions\' phases, the killed one\'s trials recovered, printed as the run printed them', async () => {
    const run = await readResultsFile(RESUMED);
    assert.deepEqual(run.resumes, [{ session: 1, startedAt: '2026-11-30T19:32:01.347Z' }]);
    assert.deepEqual(run.phases!.find((phase) => phase.name === 'trials'), { name: 'trials', ms: 25_698, incomplete: 'recovered' });
    assert.deepEqual(phaseLines(run.phases!), [
      'phases, first session: installs 0.0s · host probe 0.3s · provision 0.0s (native 0.0s)',
      '        prepare 0.0s (1 step, longest tcp-rr on native 0.0s)',
      '        trials 26s (killed: the sum of its trials) · session 26s',
      'phases, resume 1: installs 0.0s · host probe 0.2s · provision 0.0s (native 0.0s)',
      '        prepare 0.0s (1 step, longest tcp-rr on native 0.0s) · trials 26s · finish and teardown 0.5s',
      '        report 2.3s · session 29s',
      'phases: total 55s over 2 sessions (the time between them, when nothing ran, not counted)',
    ]);
  });
});
