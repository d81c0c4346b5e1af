/** Polls the runner's /readyz until it answers 200, reporting `{ phase, progress }` as it goes. */
export async function waitReady(
  runnerUrl: string,
  options: {
    onPhase?: (phase: string, progress?: number) => void;
    signal?: AbortSignal;
    isAlive?: () => boolean;
  },
): Promise<void> {
  for (;;) {
    options.signal?.throwIfAborted();
    if (options.isAlive && !options.isAlive())
      throw new Error("the runner stopped before it was ready");
    const res = await fetch(`${runnerUrl}/readyz`, { signal: options.signal }).catch(
      () => undefined,
    );
    if (res?.ok) return;
    const body = (await res?.json().catch(() => ({}))) as
      | { phase?: string; progress?: number }
      | undefined;
    options.onPhase?.(body?.phase ?? "starting", body?.progress);
    await new Promise((r) => setTimeout(r, 300));
  }
}

/** `downloading [#########-----------]  45%` — one line, redrawn in place on a TTY. */
export function progressLine(phase: string, progress?: number, width = 30): string {
  if (progress === undefined) return `${phase}…`;
  const filled = Math.round(Math.max(0, Math.min(1, progress)) * width);
  return `${phase.padEnd(11)} [${"#".repeat(filled)}${"-".repeat(width - filled)}] ${String(Math.round(progress * 100)).padStart(3)}%`;
}
