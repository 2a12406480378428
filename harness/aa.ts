import { median } from 'simple-statistics';
import type { ResultsFile } from '../results/schema.js';

/*
 * A/A runs (`--aa`): one target configuration provisioned and prepared once, measured as two
 * interleaved arms that differ only in name. Whatever difference the second arm's verdicts claim
 * against the first is noise: its rate is the false-positive rate of the verdicts, its typical size
 * the noise floor a later `--noise-floor` can pass on.
 */

/**
 * What names the second arm of an A/A run: `native` and `native~aa`, so its points are
 * `native~aa/suite/point`. `~` appears in no target or option name, so an arm id never collides
 * with a configuration the command line could name.
 */
export const AA_ARM_SUFFIX = '~aa';

/** The second arm's configuration id for a configuration, e.g. `kvm:qcow2` → `kvm:qcow2~aa`. */
export function aaArm(configuration: string): string {
  return `${configuration}${AA_ARM_SUFFIX}`;
}

/** The configuration an arm id runs on: `native~aa` → `native`; any other id is itself. */
export function armConfiguration(id: string): string {
  return id.endsWith(AA_ARM_SUFFIX) ? id.slice(0, -AA_ARM_SUFFIX.length) : id;
}

/**
 * One line per suite of an A/A run: how many of the second arm's points claimed a difference
 * (`slower` or `faster`) out of those with a verdict, which should be at most about 5 % (the
 * verdicts' α), the median |ratio − 1| and the median minimum detectable effect, in percent.
 * Empty for a run that is not an A/A run (`plan.mode` other than `aa`).
 */
export function aaSummaryLines(file: ResultsFile): string[] {
  if (file.plan.mode !== 'aa') return [];
  const lines: string[] = [];
  for (const suite of file.plan.suites) {
    const verdicts = file.points.flatMap((point) => (point.suite === suite && point.target !== file.plan.baseline && point.verdict ? [point.verdict] : []));
    if (verdicts.length === 0) {
      lines.push(`A/A ${suite}: no point has a verdict`);
      continue;
    }
    const claimed = verdicts.filter((verdict) => verdict.verdict === 'slower' || verdict.verdict === 'faster').length;
    const deviations = verdicts.flatMap((verdict) => (verdict.ratio !== null ? [100 * Math.abs(verdict.ratio - 1)] : []));
    const mdes = verdicts.flatMap((verdict) => (verdict.verdict !== 'not-comparable' && verdict.mdePercent !== null ? [verdict.mdePercent] : []));
    const percent = (values: number[]) => (values.length > 0 ? `${median(values).toFixed(2)} %` : 'n/a');
    lines.push(
      `A/A ${suite}: ${claimed} of ${verdicts.length} point(s) claimed a difference (${((100 * claimed) / verdicts.length).toFixed(0)} %, expected ≤ 5 %); ` +
        `median |A/A ratio − 1| ${percent(deviations)}; median MDE ${percent(mdes)}`,
    );
  }
  return lines;
}

/** How the report draws a target: its label, row order and colour (see reports' TargetStyleLookup). */
interface Display {
  label: string;
  order: number;
  colour: string;
}

/**
 * A target-style lookup that also knows A/A arms: `native~aa` is drawn as native's second arm, just
 * after it, in a neutral grey so the two arms never share a colour in one figure.
 * @param lookup The registry's lookup for configuration ids (provisioning's displayOf).
 */
export function withAaArms(lookup: (id: string) => Display | null): (id: string) => Display | null {
  return (id) => {
    if (!id.endsWith(AA_ARM_SUFFIX)) return lookup(id);
    const base = lookup(armConfiguration(id));
    return base ? { label: `${base.label} (A/A arm B)`, order: base.order + 0.05, colour: '#7f7f7f' } : null;
  };
}
