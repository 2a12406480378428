import type { ResourceRegistry, Undo } from '../core/ledger.js';
import type { ToolRequirement } from '../core/tools.js';
import type { ProvisionedTarget, ServicePort, TargetOptions } from '../contracts/target.js';
import type { HostFacts } from '../results/schema.js';
import type { RunImage } from './image/run-image.js';
import type { Topology } from './topology.js';

/** What a driver's `provision` receives: the run's network, ledger, options and where to put files. */
export interface ProvisionContext {
  /** The configuration being provisioned, e.g. `docker-nat:overlay`: the target's name and `facts.target`. */
  configuration: string;
  /** Ports the chosen suites' servers listen on (docker-nat publishes them when it makes the container). */
  servicePorts: readonly ServicePort[];
  topology: Topology;
  resources: ResourceRegistry;
  options: TargetOptions;
  host: HostFacts;
  /** A host directory private to this run (registered for removal). */
  runDirectory: string;
  /**
   * Where a target keeps logs worth reading after the run (a guest's serial console): the results
   * directory, beside the results file. Optional so tests can provision without one.
   */
  logDirectory?: string;
  /** The run's image steps, each done once per run (so the cache is looked in, and said, once); one per run. */
  image: RunImage;
  log: (line: string) => void;
}

/** How reports draw a target's rows: the papers' order, a family colour, a label for axes. */
export interface TargetDisplay {
  /** Axis and legend label, e.g. `Docker NAT`. */
  readonly label: string;
  /** Rank in the papers' row order: native first, then containers, then VMs. */
  readonly order: number;
  /** CSS colour of the driver's plain configuration; its other configurations get shades of it. */
  readonly colour: string;
}

/** Target options a configuration may set after a colon (`docker-nat:overlay`, `kvm:qcow2`). */
export type ConfigurableOption = 'storage' | 'accel' | 'disk' | 'vmManager';

/**
 * A kind of target (native, a Docker network mode, a QEMU guest). Registering one is one line in
 * `provisioning/targets/index.ts`: its name, options, tools, leftovers and display reach the CLI,
 * the installer, `cleanup` and the report from this object.
 */
export interface TargetDriver {
  /** The name on the command line and in results, e.g. `docker-nat`. */
  readonly name: string;
  readonly description: string;
  readonly display: TargetDisplay;
  /**
   * The options this driver takes and the values each may have; a configuration names values
   * after colons. Values are unique across one driver's options, so `kvm:qcow2` needs no key.
   */
  readonly configurable: Readonly<Partial<Record<ConfigurableOption, readonly string[]>>>;
  /**
   * Set for a target that runs only when named (`--target runc-criu`), never in `--target all` or the
   * default matrix; the text says why, and `--help` shows it.
   */
  readonly optIn?: string;
  /** The only suites this target can run (runc-criu: `migration`); absent means every suite. */
  readonly onlySuites?: readonly string[];
  /** Finds what a crashed run of this driver left (containers, guests); drivers may share one scanner. */
  readonly leftovers?: LeftoverScanner;
  /** Host packages the driver needs, e.g. `{ command: 'qemu-system-x86_64', debianPackage: 'qemu-system-x86' }`. */
  readonly hostTools: readonly ToolRequirement[];
  /**
   * Whether `npm run bench` with no --target includes this target on this host: null when it does,
   * else the reason it is left out (e.g. "no Docker daemon answers"). Explicitly named targets run
   * regardless and fail with their own clear error.
   */
  defaultAvailability(host: HostFacts): Promise<string | null>;
  /**
   * Builds the target, registering every resource in `context.resources` the moment it exists, so
   * a failure half-way is undone with the rest of the run. The result is named `context.configuration`.
   */
  provision(context: ProvisionContext): Promise<ProvisionedTarget>;
}

/** Something a crashed run may have left (found by name prefix or label), and how to remove it. */
export interface Leftover {
  description: string;
  undo: Undo;
}

/** One kind of leftover `npm run cleanup` looks for beyond the crashed runs' ledgers (provisioning/leftovers.ts). */
export interface LeftoverScanner {
  /** Names the scanner in cleanup's output, e.g. `network`. */
  name: string;
  /** Lists what is there now; removes nothing. */
  find(): Promise<Leftover[]>;
}
