// ts-mls side of the MLS engine comparison (issue 3, "Speed"): the same scenarios as
// the Go harness (bench/harness/harness.go), cipher suite 1, printed as the same JSON.
//
//   node --expose-gc bench.mjs --json [--sizes 2,100,1024] [--reps 3] [--no-best] [--max-best N]
//
// Group shape: A (leaf 0) creates the group and adds everyone in one commit (worst case:
// blank parents); R is leaf 1. Best case: leaves 2^k, ..., 2, 1 commit in turn (each
// catching up first), then A processes them, so every copath node of A has a resolution
// of one node, as in a fully updated tree. ts-mls states are immutable values, so the
// same state can create or process a commit again.
import {
  acceptAll,
  ciphersuites,
  createApplicationMessage,
  createCommit,
  createGroup,
  decodeMlsMessage,
  defaultCapabilities,
  defaultLifetime,
  emptyPskIndex,
  encodeGroupState,
  encodeMlsMessage,
  generateKeyPackage,
  getCiphersuiteFromName,
  getCiphersuiteImpl,
  joinGroup,
  processMessage,
} from "ts-mls";
import { readFileSync } from "node:fs";

const args = process.argv.slice(2);
const flag = (name, def) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : def;
};
const sizes = flag("--sizes", "2,100,1024").split(",").map(Number);
const reps = Number(flag("--reps", "3"));
const best = !args.includes("--no-best");
const maxBest = Number(flag("--max-best", "0"));
const log = (...a) => process.stderr.write(`ts-mls: ${a.join(" ")}\n`);
const gc = globalThis.gc ?? (() => {});

const pkg = JSON.parse(readFileSync(new URL("./node_modules/ts-mls/package.json", import.meta.url)));
const suiteName = Object.keys(ciphersuites).find((k) => ciphersuites[k] === 1);
const impl = await getCiphersuiteImpl(getCiphersuiteFromName(suiteName));
const utf8 = (s) => new TextEncoder().encode(s);

async function newKeyPackage(i) {
  const cred = { credentialType: "basic", identity: utf8(`member-${i}`) };
  return generateKeyPackage(cred, defaultCapabilities(), defaultLifetime, [], impl);
}

function decode(bytes) {
  const r = decodeMlsMessage(bytes, 0);
  if (!r || r[1] !== bytes.length) throw new Error("cannot decode MLSMessage");
  return r[0];
}

// addAll: one commit by `state` adding every KeyPackage, with the Welcome as bytes.
async function addAll(state, kps) {
  const r = await createCommit(
    { state, cipherSuite: impl },
    {
      extraProposals: kps.map((kp) => ({ proposalType: "add", add: { keyPackage: kp.publicPackage } })),
      ratchetTreeExtension: true,
      wireAsPublicMessage: true,
    },
  );
  const welcome = encodeMlsMessage({ version: "mls10", wireformat: "mls_welcome", welcome: r.welcome });
  return { state: r.newState, welcome };
}

async function join(kp, welcomeBytes) {
  const w = decode(welcomeBytes.slice()).welcome;
  return joinGroup(w, kp.publicPackage, kp.privatePackage, emptyPskIndex, impl);
}

async function update(state) {
  const r = await createCommit({ state, cipherSuite: impl }, { wireAsPublicMessage: true });
  const path = r.commit.publicMessage?.content?.commit?.path;
  if (!path) throw new Error("commit without path");
  const cts = path.nodes.reduce((k, n) => k + n.encryptedPathSecret.length, 0);
  return { state: r.newState, commit: encodeMlsMessage(r.commit), cts };
}

async function processCommit(state, bytes) {
  const r = await processMessage(decode(bytes), state, emptyPskIndex, acceptAll, impl);
  if (r.kind === "applicationMessage") throw new Error("not a commit");
  return r.newState;
}

async function newGroup(kpA, name) {
  return createGroup(utf8(name), kpA.publicPackage, kpA.privatePackage, [], impl);
}

function result(scenario, size, unit, runs) {
  const s = [...runs].sort((a, b) => a - b);
  const median = s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  return { scenario, size, unit, runs, median, best: s[0] };
}

async function timeOp(n, inner, prep, op) {
  const runs = [];
  for (let i = 0; i < n; i++) {
    if (prep) await prep();
    const t0 = performance.now();
    for (let j = 0; j < inner; j++) await op();
    runs.push((performance.now() - t0) / inner);
  }
  return runs;
}

const report = { engine: `ts-mls ${pkg.version}`, runtime: `node ${process.version}`, date: new Date().toISOString(), results: [], errors: [] };
const add = (r) => {
  report.results.push(r);
  log(`${r.scenario.padEnd(16)} n=${String(r.size).padEnd(6)} median ${r.median.toFixed(3)} ${r.unit}  runs ${r.runs.map((x) => x.toFixed(3)).join(" ")}`);
};
const msg = new Uint8Array(1024).map((_, i) => i & 0xff);

for (const n of sizes) {
  try {
    const kpA = await newKeyPackage(0);
    const kps = [undefined];
    for (let i = 1; i < n; i++) kps.push(await newKeyPackage(i));
    const others = kps.slice(1);

    // Bulk add (from a one-member group each time) and join from its Welcome.
    const single = await newGroup(kpA, "tsmls-bench-add");
    let welcome;
    add(result("add_commit", n, "ms", await timeOp(reps, 1, null, async () => {
      welcome = (await addAll(single, others)).welcome;
    })));
    const last = kps[n - 1];
    let keep;
    add(result("add_join", n, "ms", await timeOp(reps, 1, async () => { keep = null; gc(); }, async () => {
      keep = await join(last, welcome);
    })));
    const heap = [];
    for (let i = 0; i < reps; i++) {
      keep = null;
      gc(); gc();
      // heapUsed + external: decoded byte fields are views on ArrayBuffers outside the JS heap.
      const used = () => { const m = process.memoryUsage(); return m.heapUsed + m.external; };
      const h0 = used();
      // Three states held at once, so that one-off allocations (code, caches) weigh less.
      keep = [await join(last, welcome), await join(last, welcome), await join(last, welcome)];
      gc(); gc();
      heap.push((used() - h0) / (3 * n));
    }
    if (globalThis.gc) add(result("heap_per_member", n, "bytes", heap));
    add(result("state_per_member", n, "bytes", [encodeGroupState(keep[0]).length / n]));
    keep = null;

    // Worst case: the tree right after the bulk add.
    const bulk = await addAll(await newGroup(kpA, "tsmls-bench-group"), others);
    let A = bulk.state;
    let R = await join(kps[1], bulk.welcome);
    add(result("worst_create", n, "ms", await timeOp(reps, 1, null, () => update(A))));
    add(result("worst_ciphertexts", n, "count", [(await update(A)).cts]));
    let pending;
    add(result("worst_process", n, "ms", await timeOp(reps, 1, async () => { pending = (await update(A)).commit; }, () => processCommit(R, pending))));
    const app = await timeOp(reps, 200, null, async () => {
      const r = await createApplicationMessage(A, msg, impl);
      A = r.newState;
      const ct = encodeMlsMessage({ version: "mls10", wireformat: "mls_private_message", privateMessage: r.privateMessage });
      const got = await processMessage(decode(ct), R, emptyPskIndex, acceptAll, impl);
      if (got.kind !== "applicationMessage" || got.message.length !== msg.length) throw new Error("wrong plaintext");
      R = got.newState;
    });
    add(result("app_1kib", n, "µs", app.map((x) => x * 1000)));

    if (!best || (maxBest > 0 && n > maxBest)) continue;
    const t0 = performance.now();
    const helpers = [];
    for (let p = 1; p < n; p *= 2) helpers.unshift(p);
    const history = [];
    for (const h of helpers) {
      let m = h === 1 ? R : await join(kps[h], bulk.welcome);
      for (const c of history) m = await processCommit(m, c);
      const u = await update(m);
      history.push(u.commit);
      if (h === 1) R = u.state;
    }
    for (const c of history) A = await processCommit(A, c);
    add(result("best_build_s", n, "s", [(performance.now() - t0) / 1000]));
    add(result("best_create", n, "ms", await timeOp(reps, 1, null, () => update(A))));
    add(result("best_ciphertexts", n, "count", [(await update(A)).cts]));
    add(result("best_process", n, "ms", await timeOp(reps, 1, async () => { pending = (await update(A)).commit; }, () => processCommit(R, pending))));
  } catch (e) {
    const m = `n=${n}: ${e?.stack ?? e}`;
    report.errors.push(m);
    log("ERROR", m);
  }
}
if (!report.errors.length) delete report.errors;
if (args.includes("--json")) process.stdout.write(JSON.stringify(report, null, 2) + "\n");
