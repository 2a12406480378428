import type { LabHost } from '../../results/schema.js';
import { labHostRows } from '../model/lab-hosts.js';
import { html, type SafeHtml } from './escape.js';

/**
 * Lab mode's hosts table (issue 14): a column per inventory host, a row per fact
 * (model/lab-hosts.ts), absent facts greyed with their reason.
 */
export function labHostsTable(hosts: readonly LabHost[]): SafeHtml {
  const rows = labHostRows(hosts);
  return html`<table class="facts hosts"><caption>Hosts: one column per inventory host the run used, as each reported itself when the run started. Clock offset: the host's clock minus the controlling host's (positive: ahead), measured NTP-style; ± is a hard bound, half the kept sample's round trip.</caption>
<thead><tr><th scope="col">fact</th>${hosts.map((host) => html`<th scope="col">${host.name}</th>`)}</tr></thead>
<tbody>${rows.map(
    (row) => html`<tr><th scope="row">${row.fact}</th>${row.cells.map((cell) => (cell.kind === 'absent' ? html`<td class="absent">${cell.text}</td>` : html`<td>${cell.text}</td>`))}</tr>`,
  )}</tbody></table>`;
}
