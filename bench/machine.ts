import { cpus, release, totalmem, type as osType } from 'node:os';

export interface Machine {
  readonly cpu: string;
  readonly cores: number;
  readonly memoryGiB: number;
  readonly kernel: string;
  readonly node: string;
}

export function describeMachine(): Machine {
  const list = cpus();
  return {
    cpu: list[0]?.model.trim() ?? 'unknown cpu',
    cores: list.length,
    memoryGiB: totalmem() / 2 ** 30,
    kernel: `${osType()} ${release()}`,
    node: process.version,
  };
}

export function machineLine(m: Machine): string {
  return `${m.cpu}, ${m.cores} cores, ${m.memoryGiB.toFixed(1)} GiB RAM, ${m.kernel}, Node ${m.node}`;
}
