import { describe, expect, test } from "vitest";
import { emfLine, parseLoad } from "./load-metric";

describe("parseLoad", () => {
  test("adds sequences generating and requests queued", () => {
    const text = [
      "# HELP phi4_queue_depth Requests waiting for a sequence.",
      "# TYPE phi4_queue_depth gauge",
      "phi4_queue_depth 3",
      "# TYPE phi4_active_sequences gauge",
      "phi4_active_sequences 4",
      'phi4_requests_total{outcome="stop"} 12',
    ].join("\n");
    expect(parseLoad(text)).toBe(7);
  });

  test("is undefined when either gauge is missing (not the runner, or an older one)", () => {
    expect(parseLoad("phi4_queue_depth 1\n")).toBeUndefined();
    expect(parseLoad("phi4_queue_depth_total 1\nphi4_active_sequences 2\n")).toBeUndefined();
  });
});

test("emfLine declares Load{Service} in the namespace, as CloudWatch's EMF spec requires", () => {
  const line = JSON.parse(emfLine("Phi4/dev", 5, 1_700_000_000_000));
  expect(line).toEqual({
    _aws: {
      Timestamp: 1_700_000_000_000,
      CloudWatchMetrics: [
        {
          Namespace: "Phi4/dev",
          Dimensions: [["Service"]],
          Metrics: [{ Name: "Load", Unit: "Count" }],
        },
      ],
    },
    Service: "runner",
    Load: 5,
  });
});
