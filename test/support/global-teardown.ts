import { rmSync } from 'node:fs';

export default async function globalTeardown(): Promise<void> {
  const t = globalThis.__driftlessDevServer;
  if (!t) return;
  await t.server.stop();
  rmSync(t.record, { force: true });
}
