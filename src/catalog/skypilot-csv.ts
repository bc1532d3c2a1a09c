/**
 * Reading SkyPilot-style catalog CSV files (`catalogs/v7/<cloud>/vms.csv`). Pure functions: they
 * take the text of a file and do no I/O; ./catalog.ts finds and reads the files.
 */

/** One CSV record and the 1-based line of the file it starts on. */
export interface CsvRecord {
  line: number;
  fields: string[];
}

/**
 * A small RFC 4180 reader with the extras catalog files need:
 * - a field that starts with `"` is quoted: it may hold commas and line breaks, and `""` is a `"`;
 * - line breaks are `\n`, `\r\n` or a lone `\r`;
 * - a line whose first character is `#` is a comment and is skipped (only at the start of a record,
 *   never inside a quoted field); so is a line that is empty or only white space;
 * - a leading byte-order mark is dropped.
 * Lenient where it costs nothing: a `"` inside an unquoted field is kept as it is. Reported in
 * `problems` (the record is still returned): text after a closing quote, and a quoted field that is
 * still open at the end of the text.
 */
export function parseCsv(text: string): { records: CsvRecord[]; problems: string[] } {
  const records: CsvRecord[] = [];
  const problems: string[] = [];
  const s = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const n = s.length;
  let i = 0;
  let line = 1;

  /** Index just past the line break at `j` (which must be \r or \n). */
  const pastBreak = (j: number) => (s[j] === '\r' && s[j + 1] === '\n' ? j + 2 : j + 1);

  while (i < n) {
    // At the start of a line, outside any record: comments and blank lines.
    let end = i;
    while (end < n && s[end] !== '\n' && s[end] !== '\r') end++;
    if (s[i] === '#' || s.slice(i, end).trim() === '') {
      i = end < n ? pastBreak(end) : n;
      line++;
      continue;
    }

    const record: CsvRecord = { line, fields: [] };
    let field = '';
    let done = false;
    while (!done) {
      if (s[i] === '"') {
        // Quoted field.
        const openedOn = line;
        i++;
        let closed = false;
        while (i < n) {
          const c = s[i];
          if (c === '"') {
            if (s[i + 1] === '"') {
              field += '"';
              i += 2;
              continue;
            }
            i++;
            closed = true;
            break;
          }
          if (c === '\n' || (c === '\r' && s[i + 1] !== '\n')) line++;
          field += c;
          i++;
        }
        if (!closed) {
          problems.push(`line ${openedOn}: quoted field is not closed before the end of the file`);
        } else if (i < n && s[i] !== ',' && s[i] !== '\n' && s[i] !== '\r') {
          problems.push(`line ${line}: unexpected text after a closing quote`);
        }
      }
      // Unquoted part (or whatever follows a closing quote) up to the next comma or line break.
      while (i < n && s[i] !== ',' && s[i] !== '\n' && s[i] !== '\r') {
        field += s[i];
        i++;
      }
      record.fields.push(field);
      field = '';
      if (i >= n) {
        done = true;
      } else if (s[i] === ',') {
        i++;
      } else {
        i = pastBreak(i);
        line++;
        done = true;
      }
    }
    records.push(record);
  }
  return { records, problems };
}

/** One data row of a SkyPilot `vms.csv`, typed. Empty cells are undefined; text is trimmed. */
export interface CatalogRow {
  /** 1-based line in the file, for messages. */
  line: number;
  /** Instance / machine type; undefined on a GCP accelerator-price row. */
  instanceType?: string;
  acceleratorName?: string;
  acceleratorCount?: number;
  vcpus?: number;
  memoryGib?: number;
  /** The raw GpuInfo text (a Python-dict string such as `{'Gpus': [...]}`). */
  gpuInfo?: string;
  /** On-demand USD per hour. */
  price?: number;
  /** Spot / preemptible USD per hour. */
  spotPrice?: number;
  region: string;
  /** AvailabilityZone; undefined when the cell is empty. */
  zone?: string;
}

/** The columns a file must have (any order; other columns are ignored). */
export const REQUIRED_COLUMNS = [
  'InstanceType',
  'AcceleratorName',
  'AcceleratorCount',
  'vCPUs',
  'MemoryGiB',
  'Price',
  'SpotPrice',
  'Region',
  'AvailabilityZone',
] as const;

/** Read when present; without it GPU memory is unknown (unless a shape table knows it). */
export const OPTIONAL_COLUMNS = ['GpuInfo'] as const;

type Column = (typeof REQUIRED_COLUMNS)[number] | (typeof OPTIONAL_COLUMNS)[number];

const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/**
 * Parses the text of a SkyPilot v7 catalog file. Throws (naming the provider and the columns) when
 * there is no header or the header lacks a required column or repeats one; everything wrong with
 * single rows is returned in `problems` ("line N: ...") and those rows are left out of `rows`.
 * Number cells are parsed (`4.0` -> 4; `nan` counts as empty); a row needs a Region, and an
 * InstanceType or an AcceleratorName.
 */
export function parseSkypilotCsv(text: string, provider: string): { rows: CatalogRow[]; problems: string[] } {
  const { records, problems } = parseCsv(text);
  const [header, ...data] = records;
  if (!header) throw new Error(`${provider} catalog: no header line (the file is empty or only comments)`);

  const names = header.fields.map((f) => f.trim());
  const index = new Map<string, number>();
  const repeated = new Set<string>();
  names.forEach((name, k) => (index.has(name) ? repeated.add(name) : index.set(name, k)));
  const missing = REQUIRED_COLUMNS.filter((c) => !index.has(c));
  if (missing.length > 0) {
    const list = missing.map((c) => `"${c}"`).join(', ');
    throw new Error(
      `${provider} catalog: header (line ${header.line}) lacks required column${missing.length > 1 ? 's' : ''} ${list}; ` +
        `expected ${REQUIRED_COLUMNS.join(',')} (any order), got ${names.join(',')}`,
    );
  }
  const dup = [...repeated].filter(
    (c) => (REQUIRED_COLUMNS as readonly string[]).includes(c) || c === 'GpuInfo',
  );
  if (dup.length > 0) {
    throw new Error(
      `${provider} catalog: header (line ${header.line}) repeats column ${dup.map((c) => `"${c}"`).join(', ')}`,
    );
  }

  const rows: CatalogRow[] = [];
  for (const rec of data) {
    if (rec.fields.length !== names.length) {
      problems.push(
        `line ${rec.line}: expected ${names.length} fields as in the header, got ${rec.fields.length}`,
      );
      continue;
    }
    const bad: string[] = [];
    const text = (c: Column): string | undefined => {
      const k = index.get(c);
      const v = k === undefined ? undefined : rec.fields[k]?.trim();
      return v === undefined || v === '' ? undefined : v;
    };
    const num = (c: Column): number | undefined => {
      const v = text(c);
      if (v === undefined || v.toLowerCase() === 'nan') return undefined;
      if (!NUMBER.test(v)) {
        bad.push(`${c} "${v}" is not a number`);
        return undefined;
      }
      return Number(v);
    };
    const row: CatalogRow = {
      line: rec.line,
      instanceType: text('InstanceType'),
      acceleratorName: text('AcceleratorName'),
      acceleratorCount: num('AcceleratorCount'),
      vcpus: num('vCPUs'),
      memoryGib: num('MemoryGiB'),
      gpuInfo: text('GpuInfo'),
      price: num('Price'),
      spotPrice: num('SpotPrice'),
      region: text('Region') ?? '',
      zone: text('AvailabilityZone'),
    };
    if (!row.region) bad.push('Region is empty');
    if (!row.instanceType && !row.acceleratorName)
      bad.push('both InstanceType and AcceleratorName are empty');
    if (bad.length > 0) {
      problems.push(`line ${rec.line}: ${bad.join('; ')}`);
      continue;
    }
    rows.push(row);
  }
  return { rows, problems };
}

/**
 * Memory of one GPU in GB (GiB, rounded to a whole number) from a SkyPilot GpuInfo string, e.g.
 * `{'Gpus': [{'Name': 'A100', 'Count': 8.0, 'MemoryInfo': {'SizeInMiB': 40960}}], ...}` -> 40.
 * Falls back to `TotalGpuMemoryInMiB / count`. Undefined when there is no usable figure.
 */
export function gpuMemoryGbFromGpuInfo(gpuInfo: string | undefined, gpuCount?: number): number | undefined {
  if (!gpuInfo) return undefined;
  const per = /["']SizeInMiB["']\s*:\s*([0-9]+(?:\.[0-9]+)?)/.exec(gpuInfo);
  let mib = per ? Number(per[1]) : undefined;
  if (mib === undefined && gpuCount && gpuCount > 0) {
    const total = /["']TotalGpuMemoryInMiB["']\s*:\s*([0-9]+(?:\.[0-9]+)?)/.exec(gpuInfo);
    if (total) mib = Number(total[1]) / gpuCount;
  }
  if (mib === undefined || !(mib > 0)) return undefined;
  return Math.round(mib / 1024);
}
