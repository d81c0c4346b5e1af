import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileDownloadInfo, pathsInfo } from "@huggingface/hub";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type HubEmulator, startHubEmulator } from "./start-hub-emulator";

const REPO = "owner/model-GGUF";
let dir: string;
let hub: HubEmulator;
let bytes: Buffer;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "hub-emulator-"));
  bytes = randomBytes(100_000);
  await writeFile(join(dir, "m.gguf"), bytes);
  hub = await startHubEmulator({
    repos: [
      { repo: REPO, files: { "sub/m.gguf": join(dir, "m.gguf") } },
      { repo: "owner/gated", files: { "m.gguf": join(dir, "m.gguf") }, gated: true },
      { repo: "owner/xet", files: { "m.gguf": join(dir, "m.gguf") }, xet: true },
    ],
    token: "hf_right",
  });
});
afterAll(async () => {
  await hub.close();
  await rm(dir, { recursive: true, force: true });
});

describe("the Hub emulator speaks the Hub's download protocol", () => {
  it("answers paths-info with the LFS oid and size, and leaves out missing paths", async () => {
    const info = await pathsInfo({
      repo: REPO,
      paths: ["sub/m.gguf", "nope"],
      expand: true,
      hubUrl: hub.url,
    });
    expect(info).toHaveLength(1);
    expect(info[0]).toMatchObject({
      path: "sub/m.gguf",
      type: "file",
      size: 100_000,
      lfs: { oid: await hub.sha256Of(REPO, "sub/m.gguf"), size: 100_000 },
      lastCommit: { id: hub.commitOf(REPO) },
    });
  });

  it("redirects resolve to a CDN on another hostname that honours Range (206, 416)", async () => {
    const resolve = await fetch(`${hub.url}/${REPO}/resolve/main/sub/m.gguf`, {
      redirect: "manual",
    });
    expect(resolve.status).toBe(302);
    expect(resolve.headers.get("x-repo-commit")).toBe(hub.commitOf(REPO));
    expect(resolve.headers.get("x-linked-size")).toBe("100000");
    const location = new URL(resolve.headers.get("location")!);
    expect(location.hostname).not.toBe(new URL(hub.url).hostname);

    const part = await fetch(location, { headers: { Range: "bytes=99990-" } });
    expect(part.status).toBe(206);
    expect(part.headers.get("content-range")).toBe("bytes 99990-99999/100000");
    expect(Buffer.from(await part.arrayBuffer())).toEqual(bytes.subarray(99_990));
    const beyond = await fetch(location, { headers: { Range: "bytes=100000-" } });
    expect(beyond.status).toBe(416);
    expect(beyond.headers.get("content-range")).toBe("bytes */100000");

    const info = await fileDownloadInfo({ repo: REPO, path: "sub/m.gguf", hubUrl: hub.url });
    expect(info).toMatchObject({
      size: 100_000,
      etag: `"${await hub.sha256Of(REPO, "sub/m.gguf")}"`,
    });
  });

  it("uses the Hub's error codes", async () => {
    const code = async (path: string, init?: RequestInit) => {
      const r = await fetch(`${hub.url}${path}`, { redirect: "manual", ...init });
      return `${r.status} ${r.headers.get("x-error-code")}`;
    };
    expect(await code("/nobody/none/resolve/main/x")).toBe("401 RepoNotFound");
    expect(await code(`/${REPO}/resolve/v2/sub/m.gguf`)).toBe("404 RevisionNotFound");
    expect(await code(`/${REPO}/resolve/main/other.gguf`)).toBe("404 EntryNotFound");
    expect(await code(`/api/models/${REPO}/revision/nope`)).toBe("404 RevisionNotFound");
    expect(await code("/owner/gated/resolve/main/m.gguf")).toBe("401 GatedRepo");
    const bearer = (t: string) => ({ headers: { Authorization: `Bearer ${t}` } });
    expect(await code("/owner/gated/resolve/main/m.gguf", bearer("hf_wrong"))).toBe(
      "403 GatedRepo",
    );
    expect(await code("/owner/gated/resolve/main/m.gguf", bearer("hf_right"))).toBe("302 null");
  });

  it("answers a Xet-aware probe of a Xet-backed file with Xet file info", async () => {
    const probe = await fetch(`${hub.url}/owner/xet/resolve/main/m.gguf`, {
      redirect: "manual",
      headers: { Accept: "application/vnd.xet-fileinfo+json, */*", Range: "bytes=0-0" },
    });
    expect(probe.headers.get("content-type")).toBe("application/vnd.xet-fileinfo+json");
    expect(probe.headers.get("x-xet-hash")).toMatch(/^[0-9a-f]{64}$/);
    const plain = await fetch(`${hub.url}/owner/xet/resolve/main/m.gguf`, { redirect: "manual" });
    expect(plain.status).toBe(302);
  });

  it("injects faults: 5xx a number of times, corrupt bytes, a dropped connection", async () => {
    const url = `${hub.url}/${REPO}/resolve/main/sub/m.gguf`;
    hub.setFaults({ serverError: { status: 502, times: 1 } });
    expect((await fetch(url)).status).toBe(502);
    expect((await fetch(url)).status).toBe(200);
    hub.setFaults({ corrupt: true });
    expect(Buffer.from(await (await fetch(url)).arrayBuffer())).not.toEqual(bytes);
    hub.setFaults({ drop: { afterBytes: 1000, times: 1 } });
    await expect((await fetch(url)).arrayBuffer()).rejects.toThrow();
    hub.setFaults({});
    expect(Buffer.from(await (await fetch(url)).arrayBuffer())).toEqual(bytes);
  });
});
