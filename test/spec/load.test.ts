import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { formatPath, loadSpecFile, problemsFromZod, type SpecResult } from '../../src/spec/load';

describe('formatPath', () => {
  test('names the document itself "(root)" when the path is empty', () => {
    expect(formatPath([])).toBe('(root)');
  });

  test('joins object keys with dots', () => {
    expect(formatPath(['resources', 'gpu', 'count'])).toBe('resources.gpu.count');
  });

  test('writes list indexes in brackets without a dot', () => {
    expect(formatPath(['command', 0])).toBe('command[0]');
    expect(formatPath(['resources', 'gpu', 'type', 1])).toBe('resources.gpu.type[1]');
  });

  test('writes an index at the start of the path without a leading dot', () => {
    expect(formatPath([0, 'name'])).toBe('[0].name');
  });

  test('writes a key after an index with a dot', () => {
    expect(formatPath(['items', 2, 'name'])).toBe('items[2].name');
  });
});

describe('problemsFromZod', () => {
  const Schema = z.strictObject({ a: z.strictObject({ b: z.number() }) });

  test('names one unknown key in the singular, at the path of the object that holds it', () => {
    const result = Schema.safeParse({ a: { b: 1, c: 2 } });
    expect(result.success).toBe(false);
    if (result.success) return;
    expect(problemsFromZod(result.error)).toEqual([{ path: 'a', message: 'unknown key "c"' }]);
  });

  test('names several unknown keys in the plural, each quoted', () => {
    const result = Schema.safeParse({ a: { b: 1 }, x: 1, y: 2 });
    expect(result.success).toBe(false);
    if (result.success) return;
    expect(problemsFromZod(result.error)).toEqual([{ path: '(root)', message: 'unknown keys "x", "y"' }]);
  });

  test('keeps the message of any other issue and formats its path', () => {
    const result = z
      .object({ list: z.array(z.number({ error: 'not a number' })) })
      .safeParse({ list: [1, 'x'] });
    expect(result.success).toBe(false);
    if (result.success) return;
    expect(problemsFromZod(result.error)).toEqual([{ path: 'list[1]', message: 'not a number' }]);
  });
});

describe('loadSpecFile', () => {
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'driftless-spec-'));
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const write = async (name: string, text: string): Promise<string> => {
    const file = join(dir, name);
    await writeFile(file, text, 'utf8');
    return file;
  };

  const expectOk = (result: SpecResult) => {
    if (!result.ok) throw new Error(`expected the spec to load, got ${JSON.stringify(result.problems)}`);
    return result.spec;
  };

  test('loads and validates a YAML file, applying defaults and units', async () => {
    const file = await write(
      'train.yaml',
      'name: train\nkind: job\ncommand: [python, train.py]\nresources:\n  gpu:\n    type: A100\n  memory: 16GB\n',
    );
    const spec = expectOk(await loadSpecFile(file));
    expect(spec.name).toBe('train');
    expect(spec.resources).toEqual({
      gpu: { type: ['A100'], count: { min: 1, max: 1 } },
      memory: { min: 16 },
    });
    expect(spec.health).toEqual({ heartbeatTimeout: 15_000, startupGrace: 120_000 });
  });

  test('loads a JSON file to the same spec as the equivalent YAML file', async () => {
    const yamlFile = await write('svc.yaml', 'name: svc\nkind: service\ncommand: [node, server.js]\n');
    const jsonFile = await write(
      'svc.json',
      JSON.stringify({ name: 'svc', kind: 'service', command: ['node', 'server.js'] }),
    );
    expect(expectOk(await loadSpecFile(jsonFile))).toEqual(expectOk(await loadSpecFile(yamlFile)));
  });

  test('reports a missing file as a problem saying "no such file", at the path of the file', async () => {
    const file = join(dir, 'does-not-exist.yaml');
    await expect(loadSpecFile(file)).resolves.toEqual({
      ok: false,
      problems: [{ path: file, message: 'cannot read the spec: no such file' }],
    });
  });

  test('reports a directory given as the spec file as a problem saying "is a directory"', async () => {
    const sub = join(dir, 'a-directory');
    await mkdir(sub);
    await expect(loadSpecFile(sub)).resolves.toEqual({
      ok: false,
      problems: [{ path: sub, message: 'cannot read the spec: is a directory' }],
    });
  });

  test('reports the validation problems of a file that reads but is invalid', async () => {
    const file = await write(
      'bad.yaml',
      'name: train\nkind: job\ncommand: [python]\nresources:\n  cpu: -2\n',
    );
    await expect(loadSpecFile(file)).resolves.toEqual({
      ok: false,
      problems: [{ path: 'resources.cpu', message: 'expected a positive number, got -2' }],
    });
  });

  test('reports broken YAML in a file with the line of the error', async () => {
    const file = await write('broken.yaml', 'name: train\n\tkind: job\n');
    const result = await loadSpecFile(file);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.problems).toEqual([
      { path: 'line 2, column 1', message: expect.stringContaining('not valid YAML or JSON') },
    ]);
  });

  test('reports an empty file as "the file is empty"', async () => {
    const file = await write('empty.yaml', '');
    await expect(loadSpecFile(file)).resolves.toEqual({
      ok: false,
      problems: [{ path: '(root)', message: 'the file is empty' }],
    });
  });
});
