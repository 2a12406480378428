/**
 * Near 100% the decimal matters (99.2% vs 100% is the whole story of a throughput figure);
 * far from it, it is noise.
 */
export function formatPercent(percent: number): string {
  return Math.abs(percent - 100) < 10 ? `${percent.toFixed(1)}%` : `${percent.toFixed(0)}%`;
}

/** Three significant digits, thousands separated: enough for numbers with a CI beside them. */
export function formatNumber(value: number): string {
  if (value === 0) return '0';
  const magnitude = Math.floor(Math.log10(Math.abs(value)));
  const decimals = Math.max(0, 2 - magnitude);
  return value.toLocaleString('en-US', { minimumFractionDigits: decimals, maximumFractionDigits: decimals });
}
