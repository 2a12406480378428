import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

// The layer rule (issue 8): dependencies point one way.
//   core        imports nothing else of isobench
//   models      -> core                     (pure analytical models, e.g. pre-copy migration)
//   results     -> core
//   hosts       -> core, results            (inventory, running commands on a host: local or SSH; issue 14)
//   contracts   -> core, results, hosts     (types only: the seam between suites and targets)
//   provisioning-> core, results, contracts, hosts
//   suites      -> core, results, contracts, models, hosts
//   reports     -> core, results, models
//   harness     -> everything
//   bench-tools -> everything (developer tools; nothing imports them)
const ALLOWED: Record<string, readonly string[]> = {
  core: [],
  models: ['core'],
  results: ['core'],
  hosts: ['core', 'results'],
  contracts: ['core', 'results', 'hosts'],
  provisioning: ['core', 'results', 'contracts', 'hosts'],
  suites: ['core', 'results', 'contracts', 'models', 'hosts'],
  reports: ['core', 'results', 'models'],
  harness: ['core', 'models', 'results', 'hosts', 'contracts', 'provisioning', 'suites', 'reports'],
  // Developer tools (fault injection) drive isobench from outside; nothing imports them.
  'bench-tools': ['core', 'models', 'results', 'hosts', 'contracts', 'provisioning', 'suites', 'reports', 'harness'],
};

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

function sourceFiles(directory: string): string[] {
  return readdirSync(directory).flatMap((name) => {
    const path = join(directory, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return /\.(ts|mjs)$/.test(name) ? [path] : [];
  });
}

/** Every relative import (static, `export … from` and dynamic) of a file, resolved to a repository path. */
export function importsOf(file: string, text: string): Array<{ target: string; typeOnly: boolean }> {
  const found: Array<{ target: string; typeOnly: boolean }> = [];
  const pattern = /(?:^|\n)\s*(import|export)\s+(type\s+)?[^;]*?from\s+'(\.{1,2}\/[^']+)'|import\(\s*'(\.{1,2}\/[^']+)'\s*\)/g;
  for (const match of text.matchAll(pattern)) {
    const specifier = match[3] ?? match[4]!;
    found.push({ target: relative(root, resolve(dirname(file), specifier)), typeOnly: match[2] !== undefined });
  }
  return found;
}

const layerOf = (path: string) => path.split('/')[0]!;

test('every import between top-level folders points the way the layer rule allows', () => {
  const violations: string[] = [];
  const table = new Map<string, number>();
  for (const layer of Object.keys(ALLOWED)) {
    for (const file of sourceFiles(join(root, layer))) {
      for (const { target } of importsOf(file, readFileSync(file, 'utf8'))) {
        const to = layerOf(target);
        if (to === layer) continue;
        table.set(`${layer} -> ${to}`, (table.get(`${layer} -> ${to}`) ?? 0) + 1);
        if (!ALLOWED[layer]!.includes(to)) violations.push(`${relative(root, file)} imports ${target} (${layer} -> ${to})`);
      }
    }
  }
  assert.deepEqual(violations, []);
  // The checker saw the code: an empty scan would find no violation either.
  assert.ok((table.get('harness -> core') ?? 0) > 0 && (table.get('reports -> results') ?? 0) > 0, 'imports between folders were found');
  // Printed for the record: the import table between folders.
  console.log([...table].sort().map(([arrow, count]) => `${arrow}: ${count}`).join('\n'));
});

test('contracts/ holds types only: it imports nothing at run time', () => {
  const files = sourceFiles(join(root, 'contracts'));
  assert.ok(files.length > 0);
  for (const file of files) {
    const runtime = importsOf(file, readFileSync(file, 'utf8')).filter((entry) => !entry.typeOnly);
    assert.deepEqual(runtime, [], `${relative(root, file)} imports at run time`);
  }
});

test('the checker finds a wrong arrow (it can fail)', () => {
  const fake = join(root, 'core', 'fake.ts');
  const imports = importsOf(fake, "import { x } from '../harness/runner.js';\nexport type { Y } from '../results/schema.js';\nconst m = await import('../reports/index.js');");
  assert.deepEqual(imports.map((entry) => entry.target), ['harness/runner.js', 'results/schema.js', 'reports/index.js']);
  assert.ok(!ALLOWED.core!.includes(layerOf(imports[0]!.target)));
  // models/ sits just above core/: a model that reached for results/ or a suite would be refused.
  assert.ok(!ALLOWED.models!.includes('results') && !ALLOWED.models!.includes('suites'));
  assert.ok(!ALLOWED.core!.includes('models'));
  // hosts/ sits below the target drivers: it may not reach up for a driver, a suite or the harness.
  assert.ok(!ALLOWED.hosts!.includes('provisioning') && !ALLOWED.hosts!.includes('harness') && ALLOWED.provisioning!.includes('hosts'));
});
