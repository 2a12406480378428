import { UsageError } from '../../core/errors.js';
import type { TargetOptions } from '../../contracts/target.js';
import type { ConfigurableOption, TargetDisplay, TargetDriver } from '../types.js';
import { DRIVERS, findDriver, TARGET_NAMES } from './index.js';

/**
 * One row of a run: a driver with some of its options fixed, e.g. `docker-nat:overlay` (Felter et
 * al.'s "Docker NAT, AUFS") or `kvm:qcow2`. Each configuration is provisioned separately and keys
 * its own rows in results, CSV, verdicts and figures.
 */
export interface TargetConfiguration {
  /** Canonical id: the driver name, then the set values in the driver's option order, e.g. `kvm:qcow2:tcg`. */
  readonly id: string;
  readonly driver: TargetDriver;
  /** Options this configuration fixes; they override the run-wide flags (`--storage`, `--disk`, …). */
  readonly overrides: Readonly<Partial<Pick<TargetOptions, ConfigurableOption>>>;
}

const OPTION_FLAGS: Record<ConfigurableOption, string> = { storage: 'storage', accel: 'accel', disk: 'disk', vmManager: 'vm-manager' };

/**
 * Parses `NAME[:VALUE|:KEY=VALUE]…`, e.g. `docker-nat:overlay`, `kvm:disk=qcow2:tcg`. A bare value
 * is looked up among the driver's option values; a key is a flag name (`storage`, `disk`, `accel`,
 * `vm-manager`).
 *
 * @throws UsageError for an unknown driver, an option the driver does not take, or a value it does not accept.
 */
export function parseTargetConfiguration(text: string): TargetConfiguration {
  const [name = '', ...parts] = text.trim().split(':');
  const driver = findDriver(name);
  if (!driver) throw new UsageError(`unknown target "${name}": choose from ${TARGET_NAMES.join(', ')} or all`);
  const choices = Object.entries(driver.configurable) as Array<[ConfigurableOption, readonly string[]]>;
  const describeChoices = () =>
    choices.length === 0 ? `${driver.name} takes no options` : `${driver.name} takes ${choices.map(([key, values]) => `${OPTION_FLAGS[key]}=${values.join('|')}`).join(', ')}`;
  const overrides: Partial<Record<ConfigurableOption, string>> = {};
  for (const part of parts) {
    const equals = part.indexOf('=');
    const key = equals === -1 ? undefined : part.slice(0, equals);
    const value = equals === -1 ? part : part.slice(equals + 1);
    const option = key === undefined
      ? choices.find(([, values]) => values.includes(value))?.[0]
      : choices.find(([candidate]) => OPTION_FLAGS[candidate] === key || candidate === key)?.[0];
    if (!option || !driver.configurable[option]?.includes(value)) {
      throw new UsageError(`--target ${text}: "${part}" is not an option of ${driver.name} (${describeChoices()})`);
    }
    if (overrides[option] !== undefined && overrides[option] !== value) {
      throw new UsageError(`--target ${text}: ${OPTION_FLAGS[option]} is set twice`);
    }
    overrides[option] = value;
  }
  const id = [driver.name, ...choices.flatMap(([key]) => (overrides[key] !== undefined ? [overrides[key]] : []))].join(':');
  return { id, driver, overrides: overrides as TargetConfiguration['overrides'] };
}

/** The run-wide options with this configuration's own values on top. */
export function optionsFor(configuration: TargetConfiguration, runWide: TargetOptions): TargetOptions {
  return { ...runWide, ...configuration.overrides };
}

/** The plain configuration of every registered driver. */
export function allConfigurations(): TargetConfiguration[] {
  return DRIVERS.filter((driver) => driver.optIn === undefined).map((driver) => ({ id: driver.name, driver, overrides: {} }));
}

/**
 * How reports draw a configuration's rows, from its driver's display: the plain configuration in the
 * driver's colour, others in shades of it, ordered right after it. Unknown ids (a results file from a
 * version with other targets) get null and the report's neutral fallback.
 */
export function displayOf(id: string): TargetDisplay | null {
  let configuration: TargetConfiguration;
  try {
    configuration = parseTargetConfiguration(id);
  } catch {
    return null;
  }
  const { display } = configuration.driver;
  const variant = Object.keys(configuration.overrides).length;
  if (variant === 0) return display;
  const values = Object.values(configuration.overrides).join(', ');
  // A stable shade from the id, so the same configuration keeps its colour across reports.
  const shade = [...configuration.id].reduce((sum, char) => sum + char.charCodeAt(0), 0) % 3;
  return { label: `${display.label}:${values.replace(/, /g, ':')}`, order: display.order + 0.1 * (shade + 1), colour: mix(display.colour, shade) };
}

/**
 * A darker shade (0, 1, 2: 72 %, 55 %, 85 % of each channel) of a `#rrggbb` colour, so variants stay
 * in their family yet stand apart from the plain row; darker, because the family colours are light
 * enough (docker-nat's #9ecf8f) that a lighter shade was hard to tell from the plain one.
 */
function mix(colour: string, shade: number): string {
  const factor = [0.72, 0.55, 0.85][shade] ?? 0.72;
  const channels = [1, 3, 5].map((offset) => parseInt(colour.slice(offset, offset + 2), 16));
  return `#${channels.map((value) => Math.round(value * factor).toString(16).padStart(2, '0')).join('')}`;
}
