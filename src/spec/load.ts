import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
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

/**
 * The largest spec accepted. It travels in the workflow's history (as its input, and again with
 * each `apply` update), where Temporal's payload limit is 2 MB; a spec is a page of settings.
 */
export const MAX_SPEC_BYTES = 256 * 1024;

/** YAML aliases one spec may expand: enough for any real spec, too few for an alias bomb. */
const MAX_ALIASES = 100;

/** Longest message quoted from the YAML parser (it may quote the input). */
const MAX_MESSAGE = 200;

const problem = (path: string, message: string): SpecResult => ({ ok: false, problems: [{ path, message }] });

function sizeText(bytes: number): string {
  return bytes >= 1 << 20 ? `${(bytes / (1 << 20)).toFixed(1)} MiB` : `${Math.ceil(bytes / 1024)} KiB`;
}

/**
 * A spec that is not text or is too big, as a problem; undefined when it may be parsed. `size`:
 * the whole input's size where known (a file read only up to the limit).
 */
function unfitInput(bytes: Buffer, size = bytes.length, sizeKnown = true): SpecResult | undefined {
  const head = bytes.subarray(0, MAX_SPEC_BYTES);
  const nul = head.indexOf(0);
  // A multi-byte character cut at the limit is not binary content: look only before its end.
  const text = head.subarray(0, Math.max(0, head.length - 4)).toString('utf8');
  const bad = text.indexOf('\uFFFD');
  if (nul >= 0 || bad >= 0) {
    const at = nul >= 0 ? nul : Buffer.byteLength(text.slice(0, bad));
    return problem('(document)', `not a text file (binary content at byte ${at}); expected YAML or JSON`);
  }
  if (size > MAX_SPEC_BYTES) {
    return problem(
      '(document)',
      `the spec is ${sizeKnown ? sizeText(size) : `over ${sizeText(MAX_SPEC_BYTES)}`}; a spec may be at most ${sizeText(MAX_SPEC_BYTES)} (it is kept in the workflow's history)`,
    );
  }
  return undefined;
}

/** Parses YAML or JSON bytes after checking their size and that they are text (see parseSpecText). */
export function parseSpecBytes(bytes: Buffer, size?: number): SpecResult {
  return unfitInput(bytes, size ?? bytes.length, size !== undefined) ?? parseSpecText(bytes.toString('utf8'));
}

/** Parses YAML or JSON text (JSON is YAML) and validates it. Syntax errors carry line and column. */
export function parseSpecText(text: string): SpecResult {
  if (Buffer.byteLength(text) > MAX_SPEC_BYTES) return unfitInput(Buffer.from(text))!;
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    return {
      ok: false,
      problems: doc.errors.map((e) => {
        const pos = e.linePos?.[0];
        return {
          path: pos ? `line ${pos.line}, column ${pos.col}` : '(document)',
          message: `not valid YAML or JSON: ${e.message
            .split('\n')[0]!
            .replace(/ at line \d+, column \d+:?$/, '')
            .slice(0, MAX_MESSAGE)}`,
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
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: MAX_ALIASES });
  } catch (err) {
    // The yaml package's guard against alias bombs (and any other expansion it refuses).
    return problem(
      '(document)',
      `not accepted: ${(err as Error).message.slice(0, MAX_MESSAGE)} (at most ${MAX_ALIASES} aliases are expanded)`,
    );
  }
  if (value === null || value === undefined) {
    return { ok: false, problems: [{ path: '(root)', message: 'the file is empty' }] };
  }
  return validateSpec(value);
}

/**
 * Reads and validates a spec file, or standard input for "-"; a missing or unreadable file, one
 * over {@link MAX_SPEC_BYTES} or one that is not text is a problem, not an exception.
 */
export async function loadSpecFile(
  file: string,
  stdin: NodeJS.ReadableStream = process.stdin,
): Promise<SpecResult> {
  let bytes: Buffer;
  let size: number | undefined;
  try {
    if (file !== '-') {
      const st = await stat(file);
      if (st.isFile()) size = st.size;
    }
    // Read no further than the limit: /dev/zero or a huge file is refused, not swallowed.
    bytes = await readLimited(file === '-' ? stdin : createReadStream(file));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : String(err);
    return problem(file === '-' ? '(stdin)' : file, `cannot read the spec: ${why}`);
  }
  return parseSpecBytes(bytes, size);
}

/** A stream's bytes, stopping one byte past the limit (enough to say it is too big). */
async function readLimited(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of stream) {
    const chunk = typeof c === 'string' ? Buffer.from(c) : (c as Buffer);
    chunks.push(chunk);
    size += chunk.length;
    if (size > MAX_SPEC_BYTES) break;
  }
  return Buffer.concat(chunks);
}
