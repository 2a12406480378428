/**
 * sysbench's command lines: the table load, the warm-up and a measured run, all from the client
 * namespace against the target's server over TCP. sysbench 1.0 takes the password only as an
 * option, so the command that runs has it; the command stored in the results file has it replaced.
 */

/** Where sysbench connects and as whom. */
export interface SysbenchConnection {
  /** The target's test address. */
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
}

/** The table layout every command of one target shares (sysbench's `--tables`, `--table-size`). */
export interface SysbenchTables {
  script: 'oltp_read_only' | 'oltp_read_write';
  tables: number;
  tableSize: number;
}

/** What stands in for the password in stored command lines. */
export const REDACTED_PASSWORD = '<generated>';
const PASSWORD_OPTION = '--mysql-password=';

function common(connection: SysbenchConnection, tables: SysbenchTables): string[] {
  return [
    'sysbench', tables.script, '--db-driver=mysql',
    `--mysql-host=${connection.host}`, `--mysql-port=${connection.port}`,
    `--mysql-user=${connection.user}`, `${PASSWORD_OPTION}${connection.password}`, `--mysql-db=${connection.database}`,
    `--tables=${tables.tables}`, `--table-size=${tables.tableSize}`,
  ];
}

/**
 * `sysbench SCRIPT prepare`: creates the tables and inserts the rows, one loader thread per table
 * up to `loaders` (sysbench hands each thread whole tables).
 */
export function prepareCommand(connection: SysbenchConnection, tables: SysbenchTables, loaders: number): string[] {
  return [...common(connection, tables), `--threads=${Math.max(1, Math.min(tables.tables, loaders))}`, 'prepare'];
}

/**
 * `sysbench SCRIPT run`: `threads` connections for `seconds`, an interval line every second (so a
 * run that stops says how far it got), the 95th latency percentile.
 */
export function runCommand(connection: SysbenchConnection, tables: SysbenchTables, threads: number, seconds: number): string[] {
  return [...common(connection, tables), `--threads=${threads}`, `--time=${seconds}`, '--report-interval=1', '--percentile=95', 'run'];
}

/** `--mysql-password=` and the value after it: the generated password's URL-safe characters (server.ts's generatePassword). */
const PASSWORD_IN_TEXT = /--mysql-password=[A-Za-z0-9_-]*/g;

/**
 * The command with its password replaced by REDACTED_PASSWORD, for the results file and messages:
 * in an argument of its own, and inside an argument that holds a whole command line (lab mode's ssh
 * wrapper passes the remote command as one shell-quoted string).
 */
export function redactPassword(command: readonly string[]): string[] {
  return command.map((argument) =>
    argument.startsWith(PASSWORD_OPTION) ? `${PASSWORD_OPTION}${REDACTED_PASSWORD}` : argument.replace(PASSWORD_IN_TEXT, `${PASSWORD_OPTION}${REDACTED_PASSWORD}`),
  );
}
