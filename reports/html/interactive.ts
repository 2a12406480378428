import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/**
 * The vega runtime, inlined so the page works offline. The figures were compiled in Node, so the
 * page needs vega only (not vega-lite) to re-render a figure live with tooltips.
 */
export async function vegaRuntime(): Promise<string> {
  const vegaModule = createRequire(import.meta.url).resolve('vega');
  return readFile(join(dirname(vegaModule), 'vega.min.js'), 'utf8');
}

/** Adds a per-figure toggle between the static SVG and a live vega view; nothing runs until clicked. */
export const INTERACTIVE_SCRIPT = `(function () {
  'use strict';
  if (!window.vega) return;
  document.querySelectorAll('section.figure').forEach(function (section) {
    var specElement = section.querySelector('script.vega-spec');
    var chart = section.querySelector('.chart');
    var staticFigure = section.querySelector('.static');
    var controls = section.querySelector('.controls');
    if (!specElement || !chart || !staticFigure || !controls) return;
    var button = document.createElement('button');
    button.type = 'button';
    button.textContent = 'Interactive view (tooltips)';
    var live = null;
    var holder = null;
    button.addEventListener('click', function () {
      if (live) {
        live.finalize();
        holder.remove();
        live = null;
        staticFigure.hidden = false;
        button.textContent = 'Interactive view (tooltips)';
        return;
      }
      holder = document.createElement('div');
      holder.className = 'live';
      chart.appendChild(holder);
      live = new vega.View(vega.parse(JSON.parse(specElement.textContent)), { renderer: 'svg', container: holder, hover: true });
      live.runAsync().then(function () {
        staticFigure.hidden = true;
        button.textContent = 'Static figure';
      });
    });
    controls.appendChild(button);
  });
})();`;
