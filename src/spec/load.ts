import { readFile } from 'node:fs/promises';
import { isMap, isScalar, parseDocument } from 'yaml';
import type { z } from 'zod';
import { WorkloadSpec } from './workload-spec';

/** One thing wrong with a spec, located by its path ("resources.gpu.count"). */
export interface SpecProblem {
  path: string;
  message: string;
}

export type SpecResult = { ok: true; spec: WorkloadSpec } | { ok: false; problems: SpecProblem[] };

/** "resources.gpu.count", "command[0]"; "(root)" for the document itself. */
export function formatPath(path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else out += out ? `.${String(p)}` : String(p);
  }
  return out || '(root)';
}

/** Turns zod issues into problems, one per issue, in the schema's field order. */
export function problemsFromZod(error: z.ZodError): SpecProblem[] {
  return error.issues.map((issue) => {
    if (issue.code === 'unrecognized_keys') {
      const keys = issue.keys.map((k) => JSON.stringify(k)).join(', ');
      return {
        path: formatPath(issue.path),
        message: `unknown key${issue.keys.length > 1 ? 's' : ''} ${keys}`,
      };
    }
    return { path: formatPath(issue.path), message: issue.message };
  });
}

/** Validates an already-parsed document. */
export function validateSpec(doc: unknown): SpecResult {
  const parsed = WorkloadSpec.safeParse(doc);
  return parsed.success
    ? { ok: true, spec: parsed.data }
    : { ok: false, problems: problemsFromZod(parsed.error) };
}

/** Parses YAML or JSON text (JSON is YAML) and validates it. Syntax errors carry line and column. */
export function parseSpecText(text: string): SpecResult {
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    return {
      ok: false,
      problems: doc.errors.map((e) => {
        const pos = e.linePos?.[0];
        return {
          path: pos ? `line ${pos.line}, column ${pos.col}` : '(document)',
          message: `not valid YAML or JSON: ${e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '')}`,
        };
      }),
    };
  }
  // Env values are text: keep `3.10` or `007` as written instead of YAML's number reading.
  const env = doc.get('env', true);
  if (isMap(env)) {
    for (const pair of env.items) {
      const v = isScalar(pair.value) ? pair.value.value : undefined;
      if (isScalar(pair.value) && (typeof v === 'number' || typeof v === 'boolean') && pair.value.source) {
        pair.value.value = pair.value.source;
      }
    }
  }
  const value: unknown = doc.toJS();
  if (value === null || value === undefined) {
    return { ok: false, problems: [{ path: '(root)', message: 'the file is empty' }] };
  }
  return validateSpec(value);
}

/** Reads and validates a spec file; a missing or unreadable file is a problem, not an exception. */
export async function loadSpecFile(file: string): Promise<SpecResult> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : String(err);
    return { ok: false, problems: [{ path: file, message: `cannot read the spec: ${why}` }] };
  }
  return parseSpecText(text);
}
