import type { StatusEvent } from "@phi4-edge/shared";

/** One line a person reads for each cold-start phase. */
export function statusText(event: StatusEvent): string {
  const percent = event.progress === undefined ? "" : ` ${Math.floor(event.progress * 100)}%`;
  switch (event.phase) {
    case "waking":
      return "Waking a model runner…";
    case "downloading":
      return `Downloading the model…${percent}`;
    case "loading":
      return `Loading the model…${percent}`;
    case "queued":
      return event.position === undefined
        ? "Queued for a free sequence…"
        : `Queued: position ${event.position}`;
    case "ready":
      return "Model ready";
  }
}
