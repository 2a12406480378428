/** The page's whole stylesheet, inlined because the page loads nothing from the network. */
export const PAGE_STYLE = `
:root { color-scheme: light; }
body { font: 14px/1.45 "DejaVu Sans", "Liberation Sans", Arial, sans-serif; color: #111; margin: 0 auto; max-width: 1280px; padding: 1rem 1.5rem 3rem; }
h1 { font-size: 1.5rem; margin: 0.2rem 0; }
h2 { font-size: 1.15rem; margin: 0 0 0.2rem; }
h3 { font-size: 1rem; margin: 1rem 0 0.3rem; }
header p, .note, .mirrors { color: #444; margin: 0.2rem 0; }
nav ul { columns: 2; padding-left: 1.2rem; }
section { border-top: 1px solid #ccc; padding: 1rem 0; }
.banner { border-left: 5px solid; padding: 0.4rem 0.8rem; margin: 0.5rem 0; }
.banner ul { margin: 0.2rem 0; }
.banner p { margin: 0.2rem 0; }
.banner.degraded { background: #fff4e5; border-color: #e08a00; }
.banner.incomplete { background: #fdecea; border-color: #b00020; }
.banner.caveat { background: #eef4fb; border-color: #4c78a8; }
.chart { overflow-x: auto; }
.prediction-error td:first-child { min-width: 16em; }
.prediction-error tr.trial-notes td { font-size: 85%; color: #555; border-top: none; }
.chart svg { max-width: none; }
.controls button { font: inherit; margin: 0.3rem 0; }
.notes { color: #333; font-size: 0.9rem; margin: 0.3rem 0; }
.attention { background: #fafafa; border: 1px solid #ddd; padding: 0.3rem 0.8rem; font-size: 0.9rem; }
.attention ul { margin: 0.2rem 0; }
.status-failed .status, .status-skipped .status, .status-pending .status { color: #b00020; font-weight: bold; }
.status-noisy .status { color: #8a5a00; font-weight: bold; }
table { border-collapse: collapse; font-size: 0.85rem; margin: 0.4rem 0; }
th, td { border: 1px solid #ddd; padding: 0.2rem 0.5rem; text-align: left; vertical-align: top; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
table.facts th { background: #f4f4f4; font-weight: normal; white-space: nowrap; }
table.hosts caption { caption-side: top; text-align: left; color: #444; padding: 0.2rem 0; }
table.hosts thead th { font-weight: bold; }
table.hosts td { max-width: 32em; overflow-wrap: anywhere; }
table.hosts td.absent { color: #666; font-style: italic; }
tr.degraded td { background: #fff4e5; }
tr.significant td { background: #eef6ee; }
tr.ba-better td, .ba-verdict.ba-better { background: #e6f4e6; }
tr.ba-worse td, .ba-verdict.ba-worse { background: #fbe3e4; }
tr.ba-not-comparable td, .ba-verdict.ba-not-comparable { background: #fff4e5; }
.ba-verdict.ba-mixed { background: #fdf6d8; }
.ba-verdict { font-weight: normal; padding: 0 0.3rem; }
#answer table.answer { font-size: 0.9rem; }
#answer table.answer > tbody > tr > th { white-space: nowrap; }
#answer .metrics, #answer .warnings, #answer .direction, #answer .range { font-weight: normal; font-size: 0.8rem; color: #444; }
#answer .warnings { white-space: normal; color: #8a3b00; }
#answer .badge { font-size: 0.75rem; border: 1px solid #8a3b00; color: #8a3b00; border-radius: 3px; padding: 0 0.25rem; }
#answer .word { font-weight: bold; }
#answer .perf { font-variant-numeric: tabular-nums; }
#answer .counts { font-size: 0.8rem; color: #333; }
#answer details table.points { background: #fff; font-size: 0.8rem; }
#answer table.points td.verdict { min-width: 14em; }
#answer .key .verdict { padding: 0.05rem 0.4rem; margin-right: 0.3rem; }
.verdict.v-slower { background: #fbe3d3; border-left: 4px solid #d55e00; }
.verdict.v-faster { background: #dcebf6; border-left: 4px solid #0072b2; }
.verdict.v-equivalent { background: #daf1e9; border-left: 4px solid #009e73; }
.verdict.v-undecided { background: #fdf1d6; border-left: 4px solid #e69f00; }
.verdict.v-mixed { background: #f6e4ee; border-left: 4px solid #cc79a7; }
.verdict.v-not-comparable { background: #eeeeee; border-left: 4px solid #999999; }
.verdict.v-none { color: #555; }
.verdict.v-baseline { background: #f4f4f4; }
.glyph { font-weight: bold; }
.provenance { font-size: 0.85rem; color: #333; margin: 0.3rem 0; }
.provenance code { background: #f4f4f4; padding: 0 0.2rem; word-break: break-all; }
.provenance code.command { word-break: normal; overflow-wrap: normal; }
.provenance code.command .arg { display: inline-block; max-width: 100%; overflow-wrap: anywhere; }
footer { color: #555; font-size: 0.85rem; border-top: 1px solid #ccc; padding-top: 0.6rem; }
@media print { .controls, details { display: none; } }
`;
