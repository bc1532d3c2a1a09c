import type { Command } from 'commander';
import { CODEC_KEY_ENV, codecFromEnv, newCodecKey } from '../../codec/aes-gcm';
import { notice, output } from '../context';
import { CliError, ExitCode } from '../errors';
import { untilSignal } from './worker';
import { portOption } from './dev';

export function configureCodecCommand(program: Command): void {
  const codec = program
    .command('codec')
    .description(
      `encryption of what driftless stores in Temporal (specs, env, statuses): AES-256-GCM with the key in ${CODEC_KEY_ENV}`,
    );
  codec
    .command('key')
    .description(
      `print a new random key for ${CODEC_KEY_ENV} (keep it secret; every worker, agent and CLI needs it)`,
    )
    .option('--json', 'print {"key": ...}')
    .action((opts: { json?: boolean }) => {
      const key = newCodecKey();
      output(opts.json, { key }, () => key);
    });
  codec
    .command('serve')
    .description("serve the Web UI's codec endpoint (POST /decode, /encode) until interrupted")
    .option('--host <ip>', 'address to listen on (it decrypts for whoever reaches it)', '127.0.0.1')
    .option('--port <port>', 'port', portOption, 8081)
    .option(
      '--ui-origin <url...>',
      'origins of the Web UI allowed to call it [default: http://localhost:8233 and http://127.0.0.1:8233]',
    )
    .action(async (opts: { host: string; port: number; uiOrigin?: string[] }) => {
      const c = codecFromEnv();
      if (!c.encrypting) {
        throw new CliError(
          `${CODEC_KEY_ENV} is not set`,
          ExitCode.Usage,
          'make a key with `driftless codec key` and export it',
        );
      }
      const { startCodecServer } = await import('../../codec/server');
      const server = await startCodecServer({
        codec: c,
        host: opts.host,
        port: opts.port,
        uiOrigins: opts.uiOrigin,
      });
      notice(
        `codec endpoint ${server.url} (key ${c.keyId}); set it as the Web UI's codec endpoint; Ctrl-C stops it`,
      );
      await untilSignal();
      await server.close();
    });
}
