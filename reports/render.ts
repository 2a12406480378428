import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

/** A figure rendered for the page: static SVG, plus the spec to redraw it live. */
export interface RenderedFigure {
  svg: string;
  /** The compiled Vega spec: the page re-renders it live (tooltips) when JavaScript is on. */
  vegaSpec: vega.Spec;
}

/**
 * vega-lite -> Vega -> SVG, entirely in Node: renderer 'none' builds the scenegraph without a
 * DOM or canvas, and toSVG serialises it (escaping text itself).
 */
export async function renderFigure(spec: TopLevelSpec): Promise<RenderedFigure> {
  const vegaSpec = compile(spec).spec;
  // Errors only: a layer with no rows (no CI from a single repetition, no failed points) makes vega
  // warn about an infinite extent, which would read like a fault in every bench's output.
  const view = new vega.View(vega.parse(vegaSpec), { renderer: 'none', logLevel: vega.Error });
  try {
    const svg = await view.toSVG();
    assertInert(svg);
    return { svg, vegaSpec };
  } finally {
    view.finalize();
  }
}

/**
 * vega escapes the text it draws; this is the second lock on the door, since the SVG is inlined
 * into the page verbatim and its text comes from untrusted results files.
 */
function assertInert(svg: string): void {
  const tagsOnly = svg.replace(/"[^"]*"/g, '""');
  if (/<script|<foreignObject|<[^>]*\son[a-z]+\s*=|javascript:/i.test(tagsOnly)) {
    throw new Error('rendered SVG contains active content; refusing to inline it');
  }
}
