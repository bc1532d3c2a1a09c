import { formatDuration, parseDuration, parseSizeGb } from '../../src/spec/units';

describe('parseDuration', () => {
  test.each([
    ['90s', 90_000],
    ['5m', 300_000],
    ['1h30m', 5_400_000],
    ['250ms', 250],
    ['1d', 86_400_000],
    ['1.5s', 1_500],
    ['2m30s', 150_000],
    ['1h0m5s', 3_605_000],
    // Without a unit, a string or a plain number counts seconds.
    ['30', 30_000],
    ['0', 0],
    ['1.5', 1_500],
    [30, 30_000],
    [0, 0],
    [0.25, 250],
  ])('converts %j to %d milliseconds (no unit: seconds)', (input, ms) => {
    expect(parseDuration(input)).toBe(ms);
  });

  test('ignores whitespace around the whole duration', () => {
    expect(parseDuration('  5m \n')).toBe(300_000);
  });

  test.each([
    'soon',
    '',
    '   ',
    'm',
    '5x',
    '5 m',
    '-5s',
    '1h-30m',
    '5M',
    '5m5',
    '1e3',
    '0x10',
    '.5s',
    '5.s',
    'ms5',
  ])('rejects the malformed duration %j by returning undefined', (text) => {
    expect(parseDuration(text)).toBeUndefined();
  });

  test.each([-1, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY])(
    'rejects the number %d (negative or not finite) by returning undefined',
    (n) => {
      expect(parseDuration(n)).toBeUndefined();
    },
  );
});

describe('parseSizeGb', () => {
  test.each([
    ['16GB', 16],
    ['16gb', 16],
    ['16 GB', 16],
    ['1.5TB', 1500],
    ['500MB', 0.5],
    ['2000KB', 0.002],
  ])('converts the decimal size %j to %d GB', (text, gb) => {
    expect(parseSizeGb(text)).toBeCloseTo(gb, 12);
  });

  test.each([
    ['512MiB', 0.536870912],
    ['1GiB', 1.073741824],
    ['1TiB', 1099.511627776],
  ])('converts the binary size %j to %d GB (1 GB = 10^9 bytes)', (text, gb) => {
    expect(parseSizeGb(text)).toBeCloseTo(gb, 12);
  });

  test('reads a unit-less string as GB', () => {
    expect(parseSizeGb('16')).toBe(16);
  });

  test.each([
    [16, 16],
    [0.5, 0.5],
    [0, 0],
  ])('reads the plain number %d as GB', (n, gb) => {
    expect(parseSizeGb(n)).toBe(gb);
  });

  test.each(['lots', '', 'GB', '16 potatoes', '16G', '-1GB', '1e3', 'GB16', '16GB extra'])(
    'rejects the malformed size %j by returning undefined',
    (text) => {
      expect(parseSizeGb(text)).toBeUndefined();
    },
  );

  test.each([-1, Number.NaN, Number.POSITIVE_INFINITY])(
    'rejects the number %d (negative or not finite) by returning undefined',
    (n) => {
      expect(parseSizeGb(n)).toBeUndefined();
    },
  );
});

describe('formatDuration', () => {
  test.each([
    [0, '0ms'],
    [250, '250ms'],
    [999, '999ms'],
    [1_000, '1s'],
    [45_000, '45s'],
    [60_000, '1m'],
    [90_000, '1m30s'],
    [3_600_000, '1h'],
    [5_400_000, '1h30m'],
    [3_601_000, '1h1s'],
    [3_661_000, '1h1m1s'],
    [86_400_000, '24h'],
  ])('formats %d ms as %j', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });

  test('rounds durations of a second or more to whole seconds', () => {
    expect(formatDuration(1_499)).toBe('1s');
    expect(formatDuration(59_999)).toBe('1m');
  });

  test.each([250, 1_000, 90_000, 300_000, 5_400_000, 3_661_000, 86_400_000])(
    'is the inverse of parseDuration for %d ms',
    (ms) => {
      expect(parseDuration(formatDuration(ms))).toBe(ms);
    },
  );
});
