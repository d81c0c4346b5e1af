import { cpus } from "node:os";

/** Running totals (ms) of how busy this event loop and the machine's CPUs have been. */
export interface CpuLoad {
  /** Time this thread's event loop spent running code, not waiting. */
  loopBusyMs: number;
  /** Idle time summed over every CPU, and all time summed over every CPU. */
  machineIdleMs: number;
  machineMs: number;
}

/** The totals now; the difference of two readings gives the load in between. */
export function cpuLoad(): CpuLoad {
  let machineIdleMs = 0;
  let machineMs = 0;
  for (const { times } of cpus()) {
    machineIdleMs += times.idle;
    machineMs += times.idle + times.user + times.nice + times.sys + times.irq;
  }
  return { loopBusyMs: performance.eventLoopUtilization().active, machineIdleMs, machineMs };
}
