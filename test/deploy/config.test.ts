import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { loadConfig } from '../../src/config/config';

// The worker config docker-compose.yml mounts: clouds, not the demo's local pools.
const FILE = join(__dirname, '../../deploy/driftless.config.yaml');

describe('deploy/driftless.config.yaml', () => {
  test('parses with loadConfig and configures AWS and GCP, no local pools', async () => {
    const c = await loadConfig({ configPath: FILE }, {});
    expect(c.source).toBe(FILE);
    expect(
      Object.keys(c.providers)
        .filter((p) => c.providers[p as keyof typeof c.providers])
        .sort(),
    ).toEqual(['aws', 'gcp']);
    expect(c.providers.aws?.regions.length).toBeGreaterThan(0);
    expect(c.providers.gcp?.project).toMatch(/^[a-z]/);
    // agent.temporal is resolved for the boot scripts (read loosely: the field is new).
    const cloud = (c.agent as { cloud?: { address?: string; apiKey?: unknown } }).cloud;
    expect(cloud?.address).toBe('temporal.example.com:7233');
  });

  test('gives cloud agents a Temporal address and secrets by reference only', () => {
    const doc = parse(readFileSync(FILE, 'utf8')) as {
      agent?: { temporal?: { address?: string; apiKey?: unknown } };
    };
    const t = doc.agent?.temporal;
    expect(t?.address).toMatch(/^[^:]+:\d+$/);
    // A secret manager reference the instance resolves with its own role, never the key itself.
    expect(t?.apiKey).toEqual({
      awsSecret: expect.stringMatching(/^arn:aws:secretsmanager:/),
      gcpSecret: expect.stringMatching(/^projects\/[^/]+\/secrets\//),
    });
  });
});
