import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

/**
 * The driftless package's root (the folder with its package.json), found from `from` upwards:
 * the same from src/ under ts-jest and from dist/ when built.
 */
export function packageRoot(from: string = __dirname): string {
  let dir = resolve(from);
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    const up = dirname(dir);
    if (up === dir)
      throw new Error(`no package.json found above ${from}: cannot locate the driftless package`);
    dir = up;
  }
}
