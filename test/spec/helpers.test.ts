import { formatGpuRequest, formatResources } from '../../src/spec/describe';
import { formatRange, inRange, parseRange } from '../../src/spec/ranges';
import { RECOVERY_DEFAULTS, recoveryLimits } from '../../src/spec/recovery-defaults';
import { reservedEnvProblem, reservedEnvProblems, specEnv } from '../../src/spec/reserved-env';
import { Budget } from '../../src/spec/budget';
import { GpuRequest, Resources } from '../../src/spec/workload-spec';

describe('describing resources for people', () => {
  test('a GPU request names its models, its count and, when asked for, the memory of each GPU', () => {
    expect(formatGpuRequest(GpuRequest.parse('H100:8'))).toBe('H100:8');
    expect(formatGpuRequest(GpuRequest.parse({ type: ['H100', 'A100-80GB'], count: '1..2' }))).toBe(
      'H100|A100-80GB:1..2',
    );
    expect(formatGpuRequest(GpuRequest.parse({ count: 2, memory: '40GB..' }))).toBe('any:2 (40GB.. each)');
  });

  test('resources read as one line, each part only when the spec asks for it', () => {
    const r = Resources.parse({ gpu: 'L4', cpu: '16..', memory: '64GB..256GB', disk: '200GB' });
    expect(formatResources(r)).toBe('gpu L4:1, cpu 16.., memory 64GB..256GB, disk 200GB');
    expect(formatResources(Resources.parse({ cpu: 4 }))).toBe('cpu 4..');
    expect(formatResources(Resources.parse({ anyOf: [{ gpu: 'H100' }, { gpu: 'A100' }] }))).toBe(
      '2 alternatives (any of)',
    );
    expect(formatResources(Resources.parse({ ordered: [{ gpu: 'H100' }] }))).toBe(
      '1 alternatives (in order)',
    );
  });

  test('resources asking for nothing read as "no GPU"', () => {
    expect(formatResources(Resources.parse({}))).toBe('no GPU');
  });
});

describe('recovery limits', () => {
  test('a spec without limits gets the documented defaults: 3 start failures, 10 recoveries an hour, 30 s stop grace', () => {
    expect(recoveryLimits({})).toEqual({
      maxStartFailures: 3,
      maxRecoveries: 10,
      recoveryWindow: 3_600_000,
      stopGrace: 30_000,
    });
    expect(recoveryLimits({})).toEqual(RECOVERY_DEFAULTS);
  });

  test('each limit the spec sets replaces its default and only its default, zero included', () => {
    expect(recoveryLimits({ maxStartFailures: 0 })).toEqual({ ...RECOVERY_DEFAULTS, maxStartFailures: 0 });
    expect(recoveryLimits({ maxRecoveries: 2 })).toEqual({ ...RECOVERY_DEFAULTS, maxRecoveries: 2 });
    expect(recoveryLimits({ recoveryWindow: 60_000 })).toEqual({
      ...RECOVERY_DEFAULTS,
      recoveryWindow: 60_000,
    });
    expect(recoveryLimits({ stopGrace: 5000 })).toEqual({ ...RECOVERY_DEFAULTS, stopGrace: 5000 });
  });
});

describe('reserved env names', () => {
  test('CUDA_VISIBLE_DEVICES and DRIFTLESS_* are never the spec’s; other names are', () => {
    expect(reservedEnvProblem('CUDA_VISIBLE_DEVICES', false)).toMatch(/cannot choose its GPUs/);
    expect(reservedEnvProblem('DRIFTLESS_ANYTHING', false)).toMatch(
      /^DRIFTLESS_\* names are set by driftless/,
    );
    expect(reservedEnvProblem('MY_DRIFTLESS_X', false)).toBeUndefined();
    expect(reservedEnvProblem('HOME', true)).toBeUndefined();
  });

  test('PORT is reserved only for a workload with an HTTP health check', () => {
    expect(reservedEnvProblem('PORT', true)).toMatch(/HTTP health check/);
    expect(reservedEnvProblem('PORT', false)).toBeUndefined();
  });

  test('reservedEnvProblems lists each reserved name of an env with why, in order, and nothing else', () => {
    const problems = reservedEnvProblems({ A: '1', PORT: '80', CUDA_VISIBLE_DEVICES: '0' }, true);
    expect(problems.map(([name]) => name)).toEqual(['PORT', 'CUDA_VISIBLE_DEVICES']);
    expect(problems[0]?.[1]).toBe(reservedEnvProblem('PORT', true));
    expect(reservedEnvProblems({ A: '1' }, true)).toEqual([]);
  });

  test('the env field keeps numbers and booleans as the strings they were written as', () => {
    expect(specEnv().parse({ A: 'x', N: 8, B: true })).toEqual({ A: 'x', N: '8', B: 'true' });
  });

  test('the env field rejects a reserved name at its own path, and a value that is not a scalar', () => {
    const r = specEnv().safeParse({ DRIFTLESS_WORKLOAD: 'x', OK: 'y' });
    expect(r.success).toBe(false);
    expect(r.error?.issues.map((i) => i.path)).toEqual([['DRIFTLESS_WORKLOAD']]);
    const bad = specEnv().safeParse({ A: { nested: 1 } });
    expect(bad.error?.issues[0]?.message).toMatch(/expected a string/);
    expect(specEnv().safeParse(['A']).error?.issues[0]?.message).toMatch(
      /expected a map of names to strings/,
    );
  });
});

describe('ranges', () => {
  test('counts: one value (at least or exactly), open and closed ranges, N+', () => {
    expect(parseRange(8, 'count', 'min')).toEqual({ min: 8 });
    expect(parseRange(8, 'count', 'exact')).toEqual({ min: 8, max: 8 });
    expect(parseRange(' 8 ', 'count', 'exact')).toEqual({ min: 8, max: 8 });
    expect(parseRange('8', 'count', 'min')).toEqual({ min: 8 });
    expect(parseRange('4..8', 'count', 'exact')).toEqual({ min: 4, max: 8 });
    expect(parseRange(' 4 .. 8 ', 'count', 'exact')).toEqual({ min: 4, max: 8 });
    expect(parseRange('16..', 'count', 'exact')).toEqual({ min: 16 });
    expect(parseRange('..32', 'count', 'exact')).toEqual({ max: 32 });
    expect(parseRange('16+', 'count', 'exact')).toEqual({ min: 16 });
    expect(parseRange('1.5', 'count', 'min')).toEqual({ min: 1.5 });
  });

  test('sizes are GB', () => {
    expect(parseRange('64GB..', 'size', 'min')).toEqual({ min: 64 });
    expect(parseRange('64GB', 'size', 'exact')).toEqual({ min: 64, max: 64 });
  });

  test('what is not a count or a range is refused with what was expected', () => {
    const countHint = 'a number or range such as "8", "4..8" or "16.."';
    expect(parseRange('eight', 'count', 'min')).toBe(`expected ${countHint}, got "eight"`);
    expect(parseRange('x+', 'count', 'min')).toBe(`expected ${countHint}, got "x+"`);
    expect(parseRange('..', 'count', 'min')).toBe(`expected ${countHint}, got ".."`);
    expect(parseRange('x..4', 'count', 'min')).toBe(`expected ${countHint}, got "x..4"`);
    expect(parseRange('4..x', 'count', 'min')).toBe(`expected ${countHint}, got "4..x"`);
    expect(parseRange('8a', 'count', 'min')).toBe(`expected ${countHint}, got "8a"`);
    expect(parseRange('a8', 'count', 'min')).toBe(`expected ${countHint}, got "a8"`);
    expect(parseRange(Infinity, 'count', 'min')).toBe(`expected ${countHint}, got Infinity`);
    expect(parseRange('lots', 'size', 'min')).toBe(
      'expected a size or range such as "64GB", "64GB.." or "64GB..256GB", got "lots"',
    );
  });

  test('bounds the wrong way round or below zero are refused', () => {
    expect(parseRange('8..4', 'count', 'min')).toBe('the lower bound 8 is above the upper bound 4 in "8..4"');
    expect(parseRange('4..4', 'count', 'min')).toEqual({ min: 4, max: 4 });
    expect(parseRange(-1, 'count', 'min')).toBe('expected non-negative bounds, got -1');
    expect(parseRange(0, 'count', 'min')).toEqual({ min: 0 });
  });

  test('inRange includes both bounds, and no range or an open bound accepts everything on that side', () => {
    expect(inRange(5, undefined)).toBe(true);
    expect(inRange(4, { min: 4, max: 8 })).toBe(true);
    expect(inRange(8, { min: 4, max: 8 })).toBe(true);
    expect(inRange(3, { min: 4, max: 8 })).toBe(false);
    expect(inRange(9, { min: 4, max: 8 })).toBe(false);
    expect(inRange(1000, { min: 4 })).toBe(true);
    expect(inRange(0, { max: 8 })).toBe(true);
  });

  test('formatRange writes one value, or the bounds it has around ".."', () => {
    expect(formatRange({ min: 8, max: 8 })).toBe('8');
    expect(formatRange({ min: 64, max: 64 }, 'GB')).toBe('64GB');
    expect(formatRange({ min: 4, max: 8 })).toBe('4..8');
    expect(formatRange({ min: 16 }, 'GB')).toBe('16GB..');
    expect(formatRange({ max: 32 }, 'GB')).toBe('..32GB');
    expect(formatRange({})).toBe('..');
  });
});

describe('budget', () => {
  test('maxTotal is a positive number of dollars and nothing else is accepted', () => {
    expect(Budget.parse({ maxTotal: 50 })).toEqual({ maxTotal: 50 });
    expect(Budget.safeParse({ maxTotal: 0 }).error?.issues[0]?.message).toMatch(
      /a positive number of US dollars/,
    );
    expect(Budget.safeParse({ maxTotal: '5' }).error?.issues[0]?.message).toMatch(
      /a positive number of US dollars/,
    );
    expect(Budget.safeParse(50).error?.issues[0]?.message).toMatch(/an object such as \{ maxTotal: 50 \}/);
    expect(Budget.safeParse({ maxTotal: 5, extra: 1 }).success).toBe(false);
  });
});
