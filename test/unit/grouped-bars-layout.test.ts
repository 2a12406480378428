import assert from 'node:assert/strict';
import { test } from 'node:test';
import { categoryLayout, MAX_FLAT_PLOT_WIDTH_PX } from '../../reports/figures/grouped-bars.js';

// The nine point ids of a real migration sweep (evidence run a80f), one series (kvm).
const MIGRATION_POINTS = ['32', '64', '128'].flatMap((bw) => [`idle-bw${bw}-dl300-precopy`, `dirty16-wws64-bw${bw}-dl300-precopy`, `dirty48-wws64-bw${bw}-dl300-precopy`]);

test('nine long migration point ids tilt their labels and keep the bars narrow instead of scrolling past the window', () => {
  const { width, x } = categoryLayout(MIGRATION_POINTS, 1, 26, { labelFontWeight: 'bold' });
  assert.equal(width.step, 26);
  assert.ok(width.step * MIGRATION_POINTS.length <= MAX_FLAT_PLOT_WIDTH_PX);
  assert.deepEqual(x.axis, { labelFontWeight: 'bold', labelAngle: -35, labelAlign: 'right', labelLimit: 0 });
});

test('a few short categories keep flat labels, each group as wide as its label', () => {
  const { width, x } = categoryLayout(['client-to-server', 'server-to-client'], 4, 26, {});
  // 16 characters x 6 px + 8, over 4 series: 26 px a bar.
  assert.equal(width.step, 26);
  assert.deepEqual(x.axis, { labelAngle: 0 });
  assert.deepEqual(x.sort, ['client-to-server', 'server-to-client']);
});
