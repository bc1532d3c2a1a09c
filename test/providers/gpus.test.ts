import { detectGpus, gpuModel, parseNvidiaSmi } from '../../src/providers/local/gpus';

// Recorded output of `nvidia-smi --query-gpu=name,memory.total --format=csv,noheader,nounits`.
const DGX_A100 = Array.from({ length: 8 }, () => 'NVIDIA A100-SXM4-80GB, 81920').join('\n') + '\n';
const T4 = 'Tesla T4, 15360\n';

describe('parseNvidiaSmi', () => {
  test.each<[string, string, ReturnType<typeof parseNvidiaSmi>]>([
    [
      '8x A100-SXM4-80GB: reports the model A100-80GB (as the catalogs name it), counts 8 and converts 81920 MiB to 80 GB',
      DGX_A100,
      { type: 'A100-80GB', count: 8, memoryGb: 80 },
    ],
    [
      'Tesla T4: drops the Tesla prefix and rounds 15360 MiB to 15 GB',
      T4,
      { type: 'T4', count: 1, memoryGb: 15 },
    ],
    ['empty output means no GPUs', '', { type: 'none', count: 0 }],
    ['output of only blank lines means no GPUs', '\n  \n\n', { type: 'none', count: 0 }],
    [
      'Windows line endings and surrounding whitespace do not change the result',
      '  NVIDIA H100 80GB HBM3 ,  81559 \r\n NVIDIA H100 80GB HBM3, 81559\r\n',
      { type: 'H100', count: 2, memoryGb: 80 },
    ],
    [
      'an unreadable memory column leaves memoryGb undefined',
      'NVIDIA A10G, [N/A]\n',
      { type: 'A10G', count: 1, memoryGb: undefined },
    ],
    [
      'a workstation name becomes its model, with the RTX series kept',
      'Quadro RTX 6000, 24576\n',
      { type: 'RTX-6000', count: 1, memoryGb: 24 },
    ],
  ])('%s', (_what, output, expected) => {
    expect(parseNvidiaSmi(output)).toEqual(expected);
  });

  test('a missing memory column leaves memoryGb undefined', () => {
    expect(parseNvidiaSmi('NVIDIA L4\n').memoryGb).toBeUndefined();
  });
});

describe('detectGpus', () => {
  test('reports no GPUs on a machine without nvidia-smi', async () => {
    const { execFileSync } = await import('node:child_process');
    let hasSmi = true;
    try {
      execFileSync('nvidia-smi', ['-L'], { stdio: 'ignore' });
    } catch {
      hasSmi = false;
    }
    if (hasSmi) {
      // On a GPU machine the count is whatever nvidia-smi lists; it must at least parse.
      const d = await detectGpus();
      expect(d.count).toBeGreaterThan(0);
      return;
    }
    await expect(detectGpus()).resolves.toEqual({ type: 'none', count: 0 });
  });
});

describe('gpuModel', () => {
  test.each([
    ['NVIDIA A100-SXM4-80GB', 'A100'],
    ['NVIDIA H100 80GB HBM3', 'H100'],
    ['Tesla V100-SXM2-16GB', 'V100'],
    ['Tesla T4', 'T4'],
    ['NVIDIA L4', 'L4'],
    ['NVIDIA GeForce RTX 4090', 'RTX-4090'],
  ])('%s is the model %s, the name a spec uses', (name, model) => {
    expect(gpuModel(name)).toBe(model);
  });
});

test('a machine with mixed GPUs is offered as its largest group of one model', () => {
  expect(
    parseNvidiaSmi('Tesla T4, 15360\nNVIDIA A100-SXM4-80GB, 81920\nNVIDIA A100-SXM4-80GB, 81920\n'),
  ).toEqual({
    type: 'A100-80GB',
    count: 2,
    memoryGb: 80,
  });
});

test('a 40 GB A100 keeps the plain name A100', () => {
  expect(parseNvidiaSmi('NVIDIA A100-SXM4-40GB, 40960\n')).toMatchObject({ type: 'A100', memoryGb: 40 });
});
