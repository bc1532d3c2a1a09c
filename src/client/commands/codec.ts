import type { Command } from 'commander';
import { CODEC_KEY_ENV, codecFromEnv, newCodecKey } from '../../codec/aes-gcm';
import { MIN_TOKEN_LENGTH, redactedUiEndpoint, startCodecServer } from '../../codec/server';
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
    .description(
      "serve the Web UI's codec endpoint (POST /decode, /encode) until interrupted; every request " +
        'must carry the bearer token named by --token-env, as `Authorization: Bearer` or as the first ' +
        'path segment: the Web UI takes http://HOST:PORT/<token> as its codec endpoint',
    )
    .option('--host <ip>', 'address to listen on (it decrypts for whoever holds the token)', '127.0.0.1')
    .option('--port <port>', 'port', portOption, 8081)
    .option(
      '--ui-origin <url...>',
      'origins of the Web UI allowed to call it [default: http://localhost:8233 and http://127.0.0.1:8233]',
    )
    .option(
      '--token-env <name>',
      `name of the environment variable holding the bearer token (at least ${MIN_TOKEN_LENGTH} characters); required unless --insecure-no-auth`,
    )
    .option('--insecure-no-auth', 'accept requests without a token: anyone who reaches it decrypts')
    .action(
      async (opts: {
        host: string;
        port: number;
        uiOrigin?: string[];
        tokenEnv?: string;
        insecureNoAuth?: boolean;
      }) => {
        const token = codecTokenFrom(opts);
        const c = codecFromEnv();
        if (!c.encrypting) {
          throw new CliError(
            `${CODEC_KEY_ENV} is not set`,
            ExitCode.Usage,
            'make a key with `driftless codec key` and export it',
          );
        }
        const server = await startCodecServer({
          codec: c,
          host: opts.host,
          port: opts.port,
          uiOrigins: opts.uiOrigin,
          ...(token === undefined ? { insecureNoAuth: true } : { token }),
        });
        // The token itself is never printed: whoever runs this has it in the variable.
        notice(
          token === undefined
            ? `codec endpoint ${server.url} (key ${c.keyId}) WITHOUT AUTHENTICATION (--insecure-no-auth): ` +
                "anyone who reaches it decrypts; set it as the Web UI's codec endpoint; Ctrl-C stops it"
            : `codec endpoint ${server.url} (key ${c.keyId}), bearer token from ${opts.tokenEnv}; ` +
                `the Web UI's codec endpoint is ${redactedUiEndpoint(server)} with that token in place of <token>; Ctrl-C stops it`,
        );
        await untilSignal();
        await server.close();
      },
    );
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * The bearer token `codec serve` requires, read from the variable `--token-env` names, or
 * undefined with `--insecure-no-auth`. Messages name the variable, never its value.
 */
export function codecTokenFrom(opts: { tokenEnv?: string; insecureNoAuth?: boolean }): string | undefined {
  const hint =
    'e.g. `export DRIFTLESS_CODEC_TOKEN=$(openssl rand -hex 32)` and `--token-env DRIFTLESS_CODEC_TOKEN`';
  if (opts.insecureNoAuth) {
    if (opts.tokenEnv !== undefined)
      throw new CliError('--token-env and --insecure-no-auth exclude each other', ExitCode.Usage);
    return undefined;
  }
  const name = opts.tokenEnv;
  if (name === undefined) {
    throw new CliError(
      'codec serve needs --token-env NAME (an environment variable holding the bearer token every request must carry), or --insecure-no-auth',
      ExitCode.Usage,
      hint,
    );
  }
  // Not echoed: a value that is no variable name may be the token itself, pasted by mistake.
  if (!ENV_NAME.test(name)) {
    throw new CliError(
      '--token-env takes the name of an environment variable (letters, digits and _), not the token itself',
      ExitCode.Usage,
      hint,
    );
  }
  const token = process.env[name];
  if (token === undefined || token === '')
    throw new CliError(`--token-env ${name}: the variable ${name} is not set or empty`, ExitCode.Usage, hint);
  if (token.length < MIN_TOKEN_LENGTH) {
    throw new CliError(
      `--token-env ${name}: the token in ${name} has ${token.length} characters; at least ${MIN_TOKEN_LENGTH} are needed`,
      ExitCode.Usage,
      hint,
    );
  }
  return token;
}
