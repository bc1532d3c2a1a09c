import { mkdir, mkdtemp, realpath, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_CONFIG_FILE, defaultConfigPaths, loadConfig } from '../../src/config/config';

// Where the config is found without --config or DRIFTLESS_CONFIG: the cwd, then XDG_CONFIG_HOME.
let dir: string;
let cwd: string;
let work: string;
let xdg: string;
let home: string;

beforeEach(async () => {
  dir = await realpath(await mkdtemp(join(tmpdir(), 'driftless-lookup-test-')));
  work = join(dir, 'work');
  xdg = join(dir, 'xdg');
  home = join(dir, 'home');
  await mkdir(work);
  await mkdir(join(xdg, 'driftless'), { recursive: true });
  await mkdir(join(home, '.config', 'driftless'), { recursive: true });
  cwd = process.cwd();
  process.chdir(work);
});

afterEach(async () => {
  process.chdir(cwd);
  await rm(dir, { recursive: true, force: true });
});

const xdgFile = () => join(xdg, 'driftless', 'config.yaml');
const homeFile = () => join(home, '.config', 'driftless', 'config.yaml');

describe('config lookup', () => {
  test('without a file in the cwd, $XDG_CONFIG_HOME/driftless/config.yaml is read', async () => {
    await writeFile(xdgFile(), 'owner: from-xdg\n');
    const c = await loadConfig({}, { XDG_CONFIG_HOME: xdg, HOME: home });
    expect(c.source).toBe(xdgFile());
    expect(c.owner).toBe('from-xdg');
  });

  test('./driftless.config.yaml wins over the XDG file', async () => {
    await writeFile(xdgFile(), 'owner: from-xdg\n');
    await writeFile(join(work, DEFAULT_CONFIG_FILE), 'owner: from-cwd\n');
    const c = await loadConfig({}, { XDG_CONFIG_HOME: xdg, HOME: home });
    expect(c.source).toBe(join(work, DEFAULT_CONFIG_FILE));
    expect(c.owner).toBe('from-cwd');
  });

  test('without XDG_CONFIG_HOME, ~/.config/driftless/config.yaml is read', async () => {
    await writeFile(homeFile(), 'owner: from-home\n');
    const c = await loadConfig({}, { HOME: home });
    expect(c.source).toBe(homeFile());
    expect(c.owner).toBe('from-home');
  });

  test('a relative XDG_CONFIG_HOME is ignored, as the XDG spec says', () => {
    expect(defaultConfigPaths({ XDG_CONFIG_HOME: 'rel', HOME: home })).toEqual([
      join(work, DEFAULT_CONFIG_FILE),
      homeFile(),
    ]);
  });

  test('DRIFTLESS_CONFIG wins over both default places', async () => {
    await writeFile(xdgFile(), 'owner: from-xdg\n');
    await writeFile(join(work, DEFAULT_CONFIG_FILE), 'owner: from-cwd\n');
    const named = join(dir, 'named.yaml');
    await writeFile(named, 'owner: named\n');
    const c = await loadConfig({}, { XDG_CONFIG_HOME: xdg, HOME: home, DRIFTLESS_CONFIG: named });
    expect(c.owner).toBe('named');
  });

  test('relative stateDir and catalogDir of the XDG file resolve against its directory', async () => {
    await writeFile(xdgFile(), 'stateDir: state\ncatalogDir: ./catalogs\n');
    const c = await loadConfig({}, { XDG_CONFIG_HOME: xdg, HOME: home });
    expect(c.stateDir).toBe(join(xdg, 'driftless', 'state'));
    expect(c.catalogDir).toBe(join(xdg, 'driftless', 'catalogs'));
  });

  test('no file anywhere: defaults, no source', async () => {
    const c = await loadConfig({}, { XDG_CONFIG_HOME: xdg, HOME: home });
    expect(c.source).toBeUndefined();
  });

  test('an invalid XDG file is an error naming it', async () => {
    await writeFile(xdgFile(), 'owner: [x\n');
    await expect(loadConfig({}, { XDG_CONFIG_HOME: xdg, HOME: home })).rejects.toThrow(xdgFile());
  });
});
