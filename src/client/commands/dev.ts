import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { Command } from 'commander';
import { createLogger } from '../../logger';
import { configFrom, notice } from '../context';
import { CliError } from '../errors';
import { untilSignal } from './worker';
import { CODEC_KEY_ENV, codecFromEnv } from '../../codec/aes-gcm';
import { localUiOrigins, redactedUiEndpoint, startCodecServer } from '../../codec/server';

export function portOption(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new CliError(`expected a port number, got "${v}"`);
  return n;
}

export function configureDevCommand(program: Command): void {
  program
    .command('dev')
    .description('start a local Temporal dev server (Web UI included) and a worker; Ctrl-C stops both')
    .option('--port <port>', 'Temporal gRPC port on 127.0.0.1', portOption, 7233)
    .option('--ui-port <port>', 'Web UI port', portOption, 8233)
    .option('--no-worker', 'start only the server')
    .option(
      '--codec-port <port>',
      `with ${CODEC_KEY_ENV} set: port of the codec endpoint the Web UI decrypts through [default: a free one]`,
      portOption,
    )
    .action(
      async (opts: { port: number; uiPort: number; worker: boolean; codecPort?: number }, cmd: Command) => {
        const base = await configFrom(cmd);
        const dir = join(base.stateDir, 'temporal');
        const { startDevServer } = await import('../services/dev-server');
        const { createDriftlessWorker } = await import('../../worker');
        // With a codec key, history is encrypted: the UI reads it through a codec endpoint of ours.
        // Its token is new each run; the UI gets it inside its endpoint (the UI cannot send a
        // header of ours, see src/codec/server.ts), so it is as secret as the UI's settings are.
        const codec = codecFromEnv();
        const codecServer = codec.encrypting
          ? await startCodecServer({
              codec,
              port: opts.codecPort ?? 0,
              uiOrigins: localUiOrigins(opts.uiPort),
              token: randomBytes(32).toString('base64url'),
            })
          : undefined;
        const server = await startDevServer({
          port: opts.port,
          uiPort: opts.uiPort,
          dbFile: join(dir, 'dev.db'),
          logFile: join(dir, 'server.log'),
          uiCodecEndpoint: codecServer?.uiEndpoint,
          ownProcessGroup: true,
        }).catch(async (err: unknown) => {
          await codecServer?.close();
          throw err;
        });
        // Its own plain server: no TLS or API key from the shell's TEMPORAL_* or a profile.
        const { namespace, taskQueue } = base.temporal;
        const config = { ...base, temporal: { address: server.address, namespace, taskQueue } };
        notice(
          `Temporal dev server on ${server.address}; Web UI ${server.uiUrl}; history in ${join(dir, 'dev.db')}`,
        );
        if (codecServer)
          notice(
            `payloads encrypted (key ${codec.keyId}); the Web UI decodes via ${redactedUiEndpoint(codecServer)} ` +
              "(a token made for this run, in the UI's settings)",
          );
        try {
          if (!opts.worker) {
            notice('no worker started (--no-worker); Ctrl-C stops the server');
            await untilSignal();
            return;
          }
          const w = await createDriftlessWorker(config, createLogger());
          const running = w.run();
          notice(
            `worker polling task queue ${config.temporal.taskQueue}; Ctrl-C stops the worker and the server`,
          );
          await Promise.race([untilSignal(), running]);
          notice('stopping the worker, then the server');
          await w.shutdown();
          notice(
            'agents on local pools keep running with their workloads (by design: the workflows are ' +
              'durable); `driftless dev` again picks them up, `driftless stop NAME` ends one',
          );
        } finally {
          await server.stop();
          await codecServer?.close();
        }
      },
    );
}
