import { access, readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { DEFAULT_TASK_QUEUE } from '../common/names';
import { defaultProviders, ProvidersConfigSchema, type ProvidersConfig } from '../providers/registry';
import { problemsFromZod, type SpecProblem } from '../spec/load';
import { durationField } from '../common/duration-field';
import {
  AgentTemporalConfig,
  resolveAgentTemporal,
  SecretRef,
  type CloudAgentTemporal,
} from './agent-temporal';
import { CatalogConfig } from './catalog-config';
import { ConnectionSettingsError, resolveConnection, type TemporalConnection } from '../temporal-connection';

const OWNER_PATTERN = /^[a-z0-9][a-z0-9-]*$/;
/** Fits an AWS tag, a GCE label value and a schedule id as it is. */
const INSTALLATION_PATTERN = /^[a-z0-9][a-z0-9-]{0,62}$/;

const duration = durationField({ example: '"2s"' });

export const TemporalConfig = z.strictObject({
  /**
   * The profile of temporal.toml (the Temporal CLI's and SDKs' shared connection file) that
   * supplies the address, namespace, TLS and API key; TEMPORAL_PROFILE and --profile win.
   * @default "default" when the file has it
   */
  profile: z.string().min(1).optional(),
  /** host:port of the Temporal frontend. @default "127.0.0.1:7233" */
  address: z.string().min(1).optional(),
  /** @default "default" */
  namespace: z.string().min(1).optional(),
  /** Task queue of the driftless workers. @default "driftless" */
  taskQueue: z.string().min(1).optional(),
});

export const ReconcileConfig = z.strictObject({
  /** Whether workers create the reconcile schedule. @default true */
  enabled: z.boolean().default(true),
  /** How often the schedule reconciles. @default "5m" */
  every: duration.default(5 * 60_000),
  /** Unclaimed instances younger than this are left alone. @default "5m" */
  grace: duration.default(5 * 60_000),
  /**
   * How long one provider may take to list what it owns; one that takes longer is reported and
   * its instances are left alone this time, the others are reconciled. @default "2m"
   */
  listTimeout: duration.default(2 * 60_000),
});

export const AgentConfig = z.strictObject({
  /** How agents on AWS and GCP instances reach Temporal; required when either is configured. */
  temporal: AgentTemporalConfig.optional(),
  /** The payload codec key (DRIFTLESS_CODEC_KEY) for cloud agents, fetched by the instance; required with a codec key and a cloud. */
  codecKey: SecretRef.optional(),
  /**
   * An agent that cannot reach Temporal for this long stops its workload (and a cloud instance
   * shuts down); "off" never. @default "10m"
   */
  deadManTimeout: z.union([z.literal('off'), duration]).default(10 * 60_000),
});

export const WatchConfig = z.strictObject({
  /**
   * How often the installation's watcher describes every running instance (one batched call
   * per provider and region). An agent that dies is found by its missing heartbeats
   * (health.heartbeatTimeout) whatever this is. @default "10s"
   */
  interval: durationField({ example: '"10s"', minMs: 200 }).default(10_000),
});

/** A whole number of at least `min`, described in its error. */
const atLeast = (min: number) =>
  z
    .number({ error: `expected a whole number of at least ${min}` })
    .int({ error: `expected a whole number of at least ${min}` })
    .min(min, { error: `expected a whole number of at least ${min}` });

/** Sizing of the control worker; the defaults hold 1,000 running workloads on one worker. */
export const WorkerConfig = z
  .strictObject({
    /** Activities run at once (place, provision, terminate, ...; no activity runs per running workload). @default 200 */
    maxConcurrentActivities: atLeast(1).default(200),
    /** Workflow tasks run at once. @default 100 */
    maxConcurrentWorkflowTasks: atLeast(2).default(100),
    /** Workflows kept in memory between tasks (one per workload, and the watcher). @default 1500 */
    maxCachedWorkflows: atLeast(0).default(1500),
  })
  .refine((w) => w.maxCachedWorkflows === 0 || w.maxConcurrentWorkflowTasks <= w.maxCachedWorkflows, {
    message: 'expected maxConcurrentWorkflowTasks to be at most maxCachedWorkflows',
    path: ['maxConcurrentWorkflowTasks'],
  });

export const ConfigFile = z.strictObject({
  temporal: TemporalConfig.default({}),
  /** Marks every instance this installation launches; reconcile only touches its own. @default "driftless" */
  owner: z
    .string()
    .regex(/^[a-z0-9][a-z0-9-]*$/)
    .optional(),
  /**
   * This installation's id, marked on every instance beside the namespace: reconcile and
   * compensation only touch instances with both. @default generated once and kept in Temporal
   * (src/reconcile/installation.ts)
   */
  installation: z.string().regex(INSTALLATION_PATTERN).optional(),
  /** Where local pools keep instance records, logs and pool state. @default ~/.local/state/driftless */
  stateDir: z.string().optional(),
  /** SkyPilot-format catalogs (<provider>.csv or <provider>/vms.csv) that replace the bundled ones. */
  catalogDir: z.string().optional(),
  /** The price catalogs' age: older ones are warned about by `offers` and `apply`. */
  catalog: CatalogConfig.default({ maxAge: 7 * 86_400_000 }),
  reconcile: ReconcileConfig.default({
    enabled: true,
    every: 5 * 60_000,
    grace: 5 * 60_000,
    listTimeout: 2 * 60_000,
  }),
  agent: AgentConfig.default({ deadManTimeout: 10 * 60_000 }),
  watch: WatchConfig.default({ interval: 10_000 }),
  worker: WorkerConfig.default({
    maxConcurrentActivities: 200,
    maxConcurrentWorkflowTasks: 100,
    maxCachedWorkflows: 1500,
  }),
  /** One section per provider, by its name in the registry (src/providers/registry.ts). */
  providers: ProvidersConfigSchema.default({}),
});
export type ConfigFile = z.output<typeof ConfigFile>;

/** The complete, resolved configuration every component works from. */
export interface Config {
  /** The file it came from, if any. */
  source?: string;
  /** The worker's and CLI's own connection (see src/temporal-connection.ts), and its task queue. */
  temporal: TemporalConnection & { taskQueue: string };
  owner: string;
  /** Set explicitly (`installation`, DRIFTLESS_INSTALLATION); else the worker gets the stored one. */
  installation?: string;
  stateDir: string;
  /** Overrides the bundled AWS/GCP catalogs when set. */
  catalogDir?: string;
  /** Undefined maxAgeMs: catalog.maxAge is "off". */
  catalog: { maxAgeMs?: number };
  providers: ProvidersConfig;
  reconcile: { enabled: boolean; everyMs: number; graceMs: number; listTimeoutMs: number };
  /** The batched watch of running instances. */
  watch: { intervalMs: number };
  /** Sizing of the control worker. */
  worker: { maxConcurrentActivities: number; maxConcurrentWorkflowTasks: number; maxCachedWorkflows: number };
  /** Settings handed to every agent at launch. */
  agent: {
    /** Undefined: the switch is off. */
    deadManTimeoutMs?: number;
    /** How agents on cloud instances reach Temporal (agent.temporal); local agents use the worker's own connection. */
    cloud?: CloudAgentTemporal;
    /** Where cloud agents fetch the codec key. */
    codecKey?: SecretRef;
  };
}

/** Settings a user gives on the command line; they win over everything else. */
export interface ConfigOverrides {
  configPath?: string;
  temporalAddress?: string;
  namespace?: string;
  /** The temporal.toml profile (--profile). */
  profile?: string;
  taskQueue?: string;
  stateDir?: string;
  catalogDir?: string;
}

/** The configuration file or value is wrong; the user must fix it (exit 2). */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(
    message: string,
    readonly problems: SpecProblem[] = [],
  ) {
    super(message);
  }
}

export const DEFAULT_CONFIG_FILE = 'driftless.config.yaml';

/** An environment variable, with "" read as unset. */
function envValue(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const v = env[name];
  return v === undefined || v === '' ? undefined : v;
}

function expandHome(p: string): string {
  return p === '~' || p.startsWith('~/') ? join(homedir(), p.slice(1)) : p;
}

/**
 * Where a config file is looked for when none is named, in order: ./driftless.config.yaml,
 * then `$XDG_CONFIG_HOME/driftless/config.yaml` (default `~/.config/driftless/config.yaml`).
 */
export function defaultConfigPaths(env: NodeJS.ProcessEnv = process.env): string[] {
  const xdg = envValue(env, 'XDG_CONFIG_HOME');
  // The XDG spec ignores a relative XDG_CONFIG_HOME.
  const configHome = xdg?.startsWith('/') ? xdg : join(envValue(env, 'HOME') ?? homedir(), '.config');
  return [resolve(DEFAULT_CONFIG_FILE), join(configHome, 'driftless', 'config.yaml')];
}

/** The first default config file that exists; else the first place looked (optional, then). */
async function findDefaultConfig(env: NodeJS.ProcessEnv): Promise<string> {
  const candidates = defaultConfigPaths(env);
  for (const c of candidates) {
    try {
      await access(c);
      return c;
    } catch {
      // not there: the next place
    }
  }
  return candidates[0]!;
}

/**
 * Resolves the configuration with precedence flag > environment > file > default.
 * The file is `--config`, else `DRIFTLESS_CONFIG`, else the first of {@link defaultConfigPaths}
 * that exists.
 */
export async function loadConfig(
  overrides: ConfigOverrides = {},
  env: NodeJS.ProcessEnv = process.env,
): Promise<Config> {
  const explicit = overrides.configPath ?? envValue(env, 'DRIFTLESS_CONFIG');
  const path = explicit !== undefined ? resolve(explicit) : await findDefaultConfig(env);
  let file: ConfigFile = ConfigFile.parse({});
  let source: string | undefined;
  let text: string | undefined;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    // Only a default file that does not exist is optional.
    if (explicit !== undefined || (err as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new ConfigError(`cannot read config file ${path}: ${(err as NodeJS.ErrnoException).code ?? err}`);
    }
  }
  if (text !== undefined) {
    let doc: unknown;
    try {
      doc = parseYaml(text) ?? {};
    } catch (err) {
      throw new ConfigError(
        `config file ${path} is not valid YAML: ${(err as Error).message.split('\n')[0]}`,
      );
    }
    const parsed = ConfigFile.safeParse(doc);
    if (!parsed.success) {
      const problems = problemsFromZod(parsed.error);
      throw new ConfigError(
        `config file ${path} is invalid:\n` + problems.map((p) => `  ${p.path}: ${p.message}`).join('\n'),
        problems,
      );
    }
    file = parsed.data;
    source = path;
  }
  // A relative stateDir in the file is relative to the file; from a flag or env, to the cwd.
  const fromUser = overrides.stateDir ?? envValue(env, 'DRIFTLESS_STATE_DIR');
  const stateDir = fromUser
    ? resolve(expandHome(fromUser))
    : file.stateDir
      ? resolve(source ? resolve(source, '..') : process.cwd(), expandHome(file.stateDir))
      : join(homedir(), '.local/state/driftless');
  const catalogFromUser = overrides.catalogDir ?? envValue(env, 'DRIFTLESS_CATALOG_DIR');
  const catalogDir = catalogFromUser
    ? resolve(expandHome(catalogFromUser))
    : file.catalogDir
      ? resolve(source ? resolve(source, '..') : process.cwd(), expandHome(file.catalogDir))
      : undefined;
  const owner = envValue(env, 'DRIFTLESS_OWNER') ?? file.owner ?? 'driftless';
  if (!OWNER_PATTERN.test(owner)) {
    throw new ConfigError(`DRIFTLESS_OWNER: expected lower-case letters, digits and dashes, got "${owner}"`);
  }
  const installation = envValue(env, 'DRIFTLESS_INSTALLATION') ?? file.installation;
  if (installation !== undefined && !INSTALLATION_PATTERN.test(installation)) {
    throw new ConfigError(
      `DRIFTLESS_INSTALLATION: expected up to 63 lower-case letters, digits and dashes, got "${installation}"`,
    );
  }
  let temporal: TemporalConnection;
  try {
    temporal = resolveConnection(
      {
        address: overrides.temporalAddress,
        namespace: overrides.namespace,
        profile: overrides.profile,
        fileAddress: file.temporal.address,
        fileNamespace: file.temporal.namespace,
        fileProfile: file.temporal.profile,
      },
      env,
    );
  } catch (err) {
    if (err instanceof ConnectionSettingsError) throw new ConfigError(err.message);
    throw err;
  }
  let cloud: CloudAgentTemporal | undefined;
  try {
    cloud = file.agent.temporal && resolveAgentTemporal(file.agent.temporal, temporal.namespace, source);
  } catch (err) {
    throw new ConfigError(`config file ${source}: ${(err as Error).message}`);
  }
  return {
    source,
    temporal: {
      ...temporal,
      taskQueue:
        overrides.taskQueue ??
        envValue(env, 'DRIFTLESS_TASK_QUEUE') ??
        file.temporal.taskQueue ??
        DEFAULT_TASK_QUEUE,
    },
    owner,
    installation,
    stateDir,
    catalogDir,
    catalog: { maxAgeMs: file.catalog.maxAge === 'off' ? undefined : file.catalog.maxAge },
    reconcile: {
      enabled: file.reconcile.enabled,
      everyMs: file.reconcile.every,
      graceMs: file.reconcile.grace,
      listTimeoutMs: file.reconcile.listTimeout,
    },
    agent: {
      deadManTimeoutMs: file.agent.deadManTimeout === 'off' ? undefined : file.agent.deadManTimeout,
      ...(cloud ? { cloud } : {}),
      ...(file.agent.codecKey ? { codecKey: file.agent.codecKey } : {}),
    },
    watch: { intervalMs: file.watch.interval },
    worker: { ...file.worker },
    // With no providers configured at all, the registry's default (one local pool on this machine).
    providers: Object.values(file.providers).some((p) => p !== undefined)
      ? file.providers
      : defaultProviders(),
  };
}
