import { mkdir, open, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { UsageError } from './errors.js';
import { isProcessAlive, stateDirectory } from './ledger.js';

/**
 * One run at a time: runs share the test network's names and addresses, and two benchmarks on one
 * host would measure each other.
 */
export async function acquireRunLock(directory: string = stateDirectory()): Promise<() => Promise<void>> {
  await mkdir(directory, { recursive: true });
  const path = join(directory, 'run.lock');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await open(path, 'wx');
      await handle.writeFile(String(process.pid));
      await handle.close();
      return async () => {
        await rm(path, { force: true });
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const holder = Number((await readFile(path, 'utf8').catch(() => '')).trim());
      if (Number.isInteger(holder) && holder > 0 && isProcessAlive(holder)) {
        throw new UsageError(`another isobench run (pid ${holder}) is in progress: wait for it to finish or stop it`);
      }
      await rm(path, { force: true });
    }
  }
  throw new UsageError(`could not take the run lock ${path}: remove it if no isobench run is in progress`);
}
