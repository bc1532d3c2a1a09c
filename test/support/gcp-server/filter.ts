/** GCE list filters as the fake understands them (the regular-expression form and `=`/`!=`). */
import type { Json } from './types';

/** One clause of a GCE list filter: `field = "v"`, `field != v`, `field eq "regex"`, `field ne "regex"`. */
export interface Clause {
  path: string[];
  op: '=' | '!=' | 'eq' | 'ne';
  value: string;
}

/** Parses the AND of clauses, each optionally in parentheses; throws on anything else. */
export function parseFilter(filter: string): Clause[] {
  const clauses: Clause[] = [];
  const re =
    /\s*\(?\s*([a-zA-Z][\w.-]*)\s*(!=|=|\beq\b|\bne\b)\s*("(?:[^"\\]|\\.)*"|[^\s()]+)\s*\)?\s*(?:AND\s+|$)/y;
  let pos = 0;
  while (pos < filter.length) {
    re.lastIndex = pos;
    const m = re.exec(filter);
    if (!m || m[0].length === 0) throw new Error(`unparsable filter at ${pos}: ${filter}`);
    const raw = m[3]!;
    const value = raw.startsWith('"') ? (JSON.parse(raw) as string) : raw;
    clauses.push({ path: m[1]!.split('.'), op: m[2] as Clause['op'], value });
    pos = re.lastIndex;
  }
  return clauses;
}

function fieldOf(obj: Json, path: string[]): string | undefined {
  let cur: unknown = obj;
  for (const p of path) {
    if (typeof cur !== 'object' || cur === null) return undefined;
    cur = (cur as Json)[p];
  }
  return cur === undefined || cur === null ? undefined : String(cur);
}

export function matches(obj: Json, clauses: Clause[]): boolean {
  return clauses.every((c) => {
    const v = fieldOf(obj, c.path);
    switch (c.op) {
      case '=':
        return v === c.value;
      case '!=':
        return v !== c.value;
      case 'eq':
        return v !== undefined && new RegExp(`^(?:${c.value})$`).test(v);
      case 'ne':
        return v === undefined || !new RegExp(`^(?:${c.value})$`).test(v);
    }
  });
}
