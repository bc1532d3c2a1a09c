import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command, CommanderError } from 'commander';
import { CodecError } from '../codec/aes-gcm';
import { ConfigError } from '../config/config';
import { formatDuration } from '../spec/units';
import { TemporalConnectError } from '../temporal-connection';
import { configureApplyCommand } from './commands/apply';
import { configureCatalogCommand } from './commands/catalog';
import { configureDemoCommand } from './commands/demo';
import { configureCheckCommand } from './commands/check';
import { configureCodecCommand } from './commands/codec';
import { configureDevCommand } from './commands/dev';
import { configureGcCommand } from './commands/gc';
import { configureHealthCommand } from './commands/health';
import { configureLogsCommand } from './commands/logs';
import { configureMigrateCommand } from './commands/migrate';
import { configureOffersCommand } from './commands/offers';
import { configurePoolCommand } from './commands/pool';
import { configureStatusCommands } from './commands/status';
import { configureCostCommand } from './commands/cost';
import { configureStopCommand } from './commands/stop';
import { configureValidateCommand } from './commands/validate';
import { configureWorkerCommand } from './commands/worker';
import { CliError, ExitCode } from './errors';

function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(join(__dirname, '../../package.json'), 'utf8')) as { version: string };
  return pkg.version;
}

/** Help shows a duration option's default as the user would type it ("10m"), not as 600000 ms. */
function describeDurationDefaults(cmd: Command): void {
  for (const opt of cmd.options) {
    if (opt.flags.includes('<duration>') && typeof opt.defaultValue === 'number')
      opt.defaultValueDescription ??= formatDuration(opt.defaultValue);
  }
}

export function buildProgram(): Command {
  const program = new Command('driftless')
    .description(
      'Declare what a GPU workload needs; driftless places it on a priced offer, watches it, and moves it when its provider fails.',
    )
    .version(packageVersion())
    .option(
      '-c, --config <file>',
      'config file (env DRIFTLESS_CONFIG) [default: ./driftless.config.yaml, else $XDG_CONFIG_HOME/driftless/config.yaml]',
    )
    .option('--address <host:port>', 'Temporal frontend (env TEMPORAL_ADDRESS) [default: 127.0.0.1:7233]')
    .option('--namespace <ns>', 'Temporal namespace (env TEMPORAL_NAMESPACE) [default: default]')
    .option(
      '--profile <name>',
      'profile of temporal.toml with the address, namespace, TLS and API key (env TEMPORAL_PROFILE, TEMPORAL_CONFIG_FILE)',
    )
    .option(
      '--task-queue <name>',
      'task queue of the driftless workers (env DRIFTLESS_TASK_QUEUE) [default: driftless]',
    )
    .option(
      '--state-dir <dir>',
      'local pool state and logs (env DRIFTLESS_STATE_DIR) [default: ~/.local/state/driftless]',
    )
    .option('--no-color', 'no colour (output is plain already; accepted for scripts)')
    .showHelpAfterError('(run with --help for usage)')
    // Before the commands are added: they inherit it, so each command's help lists these too.
    .configureHelp({ showGlobalOptions: true })
    .exitOverride();
  configureApplyCommand(program);
  configureStatusCommands(program);
  configureCostCommand(program);
  configureStopCommand(program);
  configureLogsCommand(program);
  configureMigrateCommand(program);
  configureValidateCommand(program);
  configureOffersCommand(program);
  configureCatalogCommand(program);
  configureCheckCommand(program);
  configureGcCommand(program);
  configurePoolCommand(program);
  configureDevCommand(program);
  configureWorkerCommand(program);
  configureHealthCommand(program);
  configureDemoCommand(program);
  configureCodecCommand(program);
  for (const cmd of program.commands) {
    cmd.exitOverride();
    describeDurationDefaults(cmd);
    for (const sub of cmd.commands) {
      sub.exitOverride();
      describeDurationDefaults(sub);
    }
  }
  return program;
}

let stdoutGuarded = false;

/** A reader that went away (`driftless offers | head`) ends the output, not with a stack trace. */
function quietOnClosedStdout(): void {
  if (stdoutGuarded) return; // once per process: tests call main() many times
  stdoutGuarded = true;
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(typeof process.exitCode === 'number' ? process.exitCode : 0);
    throw err;
  });
}

/** Runs the CLI; returns the exit code (0 ok, 1 bug, 2 usage/invalid spec, 3 failure). */
export async function main(argv: string[]): Promise<number> {
  quietOnClosedStdout();
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : ExitCode.Ok;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version are exits with code 0; everything else commander rejects is usage.
      return err.exitCode === 0 ? ExitCode.Ok : ExitCode.Usage;
    }
    if (err instanceof CliError) {
      process.stderr.write(`error: ${err.message}\n`);
      if (err.hint) process.stderr.write(`  ${err.hint}\n`);
      return err.exitCode;
    }
    if (err instanceof CodecError) {
      process.stderr.write(`error: ${err.message}\n`);
      return ExitCode.Usage;
    }
    if (err instanceof ConfigError) {
      process.stderr.write(`error: ${err.message}\n`);
      return ExitCode.Usage;
    }
    if (err instanceof TemporalConnectError) {
      const { cliConnectError } = await import('./services/temporal-client');
      const e = cliConnectError(err);
      process.stderr.write(`error: ${e.message}\n  ${e.hint}\n`);
      return e.exitCode;
    }
    process.stderr.write(
      `driftless: unexpected error (a bug; please report it):\n${(err as Error).stack ?? err}\n`,
    );
    return ExitCode.Bug;
  }
}
