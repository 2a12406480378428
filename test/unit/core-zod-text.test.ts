import assert from 'node:assert/strict';
import { test } from 'node:test';
import { z } from 'zod';
import { formatZodIssues } from '../../core/zod-text.js';

const Point = z.object({ runId: z.string(), repetitions: z.array(z.object({ value: z.number() })), target: z.string(), suite: z.string() });

test('formatZodIssues: the first three issues as dotted path and message', () => {
  const parsed = Point.safeParse({ runId: 7, repetitions: [{ value: 'fast' }] });
  assert.equal(parsed.success, false);
  const text = formatZodIssues(parsed.error);
  const parts = text.split('; ');
  assert.equal(parts.length, 3, text);
  assert.match(parts[0]!, /^runId: .*expected string/i);
  assert.match(parts[1]!, /^repetitions\.0\.value: .*expected number/i);
  assert.match(parts[2]!, /^target: /);
  assert.doesNotMatch(text, /suite/, 'the fourth issue is left out');
});

test('formatZodIssues: max 1, the value itself as (root), and no issues at all', () => {
  const root = z.number().safeParse('x');
  assert.match(formatZodIssues(root.error!, 1), /^\(root\): /);
  const many = Point.safeParse({});
  assert.equal(formatZodIssues(many.error!, 1).split('; ').length, 1);
  assert.equal(formatZodIssues({ issues: [] }), 'invalid');
  assert.equal(formatZodIssues({ issues: [{ path: ['a', 0, Symbol.for('s')], message: 'bad' }] }), 'a.0.Symbol(s): bad');
});
