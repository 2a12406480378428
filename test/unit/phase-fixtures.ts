/**
 * Shared by the phase tests (resume-phases, report-phases): two real results files and a resumed
 * session built on the killed one.
 */
import { fileURLToPath } from 'node:url';
import { resumedSessions } from '../../harness/resume.js';
import type { ResultsFile } from '../../results/schema.js';

/** The path of a results fixture. */
export const resultsFixture = (name: string): string => fileURLToPath(new URL(`../fixtures/results/${name}`, import.meta.url));

/**
 * A real run SIGKILLed during its trials (fault injection, seed 202, kill 23: native × random-io,
 * two trials recorded, then `npm run cleanup` marked it interrupted). Its session wrote no `trials` phase.
 */
export const KILLED = resultsFixture('killed-native-random-io.json');

/**
 * A real run (native × tcp-rr, --quick --reps 1) SIGKILLed after its first trial, cleaned up and
 * resumed with this isobench: the file `bench -- --resume` left, its first session's trials recovered.
 */
export const RESUMED = resultsFixture('resumed-after-kill-native-tcp-rr.json');

/** The killed fixture resumed at `at` and run to the end: the resumed session's phases appended. */
export function resumedRun(killed: ResultsFile, at: string): ResultsFile {
  const sessions = resumedSessions(killed, at);
  return {
    ...killed,
    status: 'completed',
    resumes: sessions.resumes,
    phases: [
      ...(sessions.phases ?? []),
      { name: 'resume 1: installs', ms: 3 },
      { name: 'resume 1: host probe', ms: 160 },
      { name: 'resume 1: provision native', ms: 1 },
      { name: 'resume 1: prepare random-io on native', ms: 480 },
      { name: 'resume 1: trials', ms: 21_700 },
      { name: 'resume 1: finish and teardown', ms: 90 },
      { name: 'resume 1: report', ms: 1_200 },
    ],
  };
}
