import { startRunner } from "/work/main/gpu-runner/dev/start-runner.ts";
import { writeTinyModel } from "/work/main/gpu-runner/dev/tiny-model/write-tiny-model.ts";
await writeTinyModel("/tmp/c5/tiny.gguf");
const r = await startRunner({ MODEL_PATH: "/tmp/c5/tiny.gguf", GPU: "false", THREADS: "1", PARALLEL: "2", CONTEXT_SIZE: "2048", QUEUE_MAX: "8", RUNNER_SECRET: "0123456789abcdef0123" });
console.log(r.url);
for (let i=0;i<50;i++){ const s = await fetch(r.url+"/readyz"); if (s.ok) break; await new Promise(r=>setTimeout(r,200)); }
const body = JSON.stringify({0:{messages:[{role:"user",content:"hi"}],maxTokens:60}});
for (const auth of [undefined, "Bearer 0123456789abcdef0123"]) {
  const res = await fetch(r.url+"/trpc/chat?batch=1", {method:"POST", headers:{"content-type":"application/json","trpc-accept":"application/jsonl", ...(auth?{authorization:auth}:{})}, body});
  console.log(res.status, [...res.headers]); console.log((await res.text()).slice(0,3000));
}
const res = await fetch(r.url+"/trpc/model?batch=1&input=%7B%7D", {headers:{"trpc-accept":"application/jsonl"}});
console.log(res.status, [...res.headers], await res.text());
const m = await fetch(r.url+"/metrics", {headers:{authorization:"Bearer 0123456789abcdef0123"}});
console.log((await m.text()).split("\n").filter(l=>l.includes("active")||l.includes("queue")).join("\n"));
await r.stop();
