import { cpus, release, totalmem, type as osType } from 'node:os';

export interface Machine {
  readonly cpu: string;
  readonly cores: number;
  readonly memoryGiB: number;
  readonly kernel: string;
  readonly node: string;
  /** NODE_EXTRA_CA_CERTS was set here and removed for the processes measured (see startAsOnAHost). */
  readonly extraCaCertsRemoved: boolean;
}

let extraCaCertsRemoved = false;

/**
 * This machine sets NODE_EXTRA_CA_CERTS for its network proxy, so every node process parses a
 * 220 KB certificate bundle as it starts (about 40 ms of CPU): a host running f2b-store has no
 * such setting, and nothing here uses the network. Removed before anything is spawned, and said
 * in every section's machine line.
 */
export function startAsOnAHost(): void {
  if (process.env.NODE_EXTRA_CA_CERTS === undefined) return;
  delete process.env.NODE_EXTRA_CA_CERTS;
  extraCaCertsRemoved = true;
}

export function describeMachine(): Machine {
  const list = cpus();
  return {
    cpu: list[0]?.model.trim() ?? 'unknown cpu',
    cores: list.length,
    memoryGiB: totalmem() / 2 ** 30,
    kernel: `${osType()} ${release()}`,
    node: process.version,
    extraCaCertsRemoved,
  };
}

export function machineLine(m: Machine): string {
  const processes = m.extraCaCertsRemoved ? ' (node processes started without this machine\'s NODE_EXTRA_CA_CERTS, as on a host)' : '';
  return `${m.cpu}, ${m.cores} cores, ${m.memoryGiB.toFixed(1)} GiB RAM, ${m.kernel}, Node ${m.node}${processes}`;
}
