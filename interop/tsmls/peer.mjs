// A ts-mls peer driven over stdin/stdout, one JSON object per line, so a Go test or a
// shell script can make ts-mls and Daylight talk MLS to each other.
//
// Request:  {"id": 1, "op": "keyPackage", ...}          (byte fields are lowercase hex)
// Response: {"id": 1, "ok": true, ...} or {"id": 1, "ok": false, "error": "..."}
//
// One peer holds one identity, at most one pending KeyPackage and at most one group.
// Every MLS message crosses the boundary as a TLS-encoded MLSMessage (RFC 9420, Section 6).
//
// ops:
//   init        {suite}                         choose the cipher suite (number)
//   keyPackage  {identity}                      -> {keyPackage}
//   createGroup {groupId, identity}             -> {epoch}
//   add         {keyPackage, public, ratchetTree} commit Add(keyPackage) (+ UpdatePath)
//                                               -> {commit, welcome, epoch}
//   commit      {public}                        empty full commit -> {commit, epoch}
//   join        {welcome}                       join with the pending KeyPackage -> {epoch}
//   process     {message}                       handshake message (commit/proposal)
//                                               -> {epoch} ; application -> {plaintext}
//   protect     {plaintext, aad}                -> {message}
//   unprotect   {message}                       -> {plaintext}
//   state       {}                              -> {epoch, epochAuthenticator, members}
//   export      {label, context, length}        -> {secret}
//   suites      {}                              -> {suites: {name: id}}
import { createInterface } from "node:readline";
import {
  ciphersuites,
  createApplicationMessage,
  createCommit,
  createGroup,
  decodeMlsMessage,
  defaultCapabilities,
  defaultLifetime,
  emptyPskIndex,
  encodeMlsMessage,
  generateKeyPackage,
  getCiphersuiteFromName,
  getCiphersuiteImpl,
  joinGroup,
  mlsExporter,
  processMessage,
  acceptAll,
} from "ts-mls";

const hex = (b) => Buffer.from(b).toString("hex");
const unhex = (s) => new Uint8Array(Buffer.from(s ?? "", "hex"));
const utf8 = (s) => new TextEncoder().encode(s);

const peer = { impl: null, suite: 0, kp: null, state: null };

function decode(h, want) {
  const r = decodeMlsMessage(unhex(h), 0);
  if (!r) throw new Error(`cannot decode MLSMessage (${want})`);
  const [msg, n] = r;
  if (n !== unhex(h).length) throw new Error(`trailing bytes after MLSMessage (${want})`);
  if (want && msg.wireformat !== want && !(Array.isArray(want) && want.includes(msg.wireformat))) {
    throw new Error(`expected ${want}, got ${msg.wireformat}`);
  }
  return msg;
}

const enc = (wireformat, field, value) => hex(encodeMlsMessage({ version: "mls10", wireformat, [field]: value }));

function needGroup() {
  if (!peer.state) throw new Error("no group");
  return peer.state;
}

const ops = {
  async suites() {
    return { suites: ciphersuites };
  },
  async init({ suite }) {
    const name = Object.keys(ciphersuites).find((k) => ciphersuites[k] === suite);
    if (!name) throw new Error(`ts-mls has no cipher suite ${suite}`);
    peer.impl = await getCiphersuiteImpl(getCiphersuiteFromName(name));
    peer.suite = suite;
    return { name };
  },
  async keyPackage({ identity }) {
    const cred = { credentialType: "basic", identity: utf8(identity) };
    peer.kp = await generateKeyPackage(cred, defaultCapabilities(), defaultLifetime, [], peer.impl);
    return { keyPackage: enc("mls_key_package", "keyPackage", peer.kp.publicPackage) };
  },
  async createGroup({ groupId, identity }) {
    if (!peer.kp) await ops.keyPackage({ identity });
    peer.state = await createGroup(unhex(groupId), peer.kp.publicPackage, peer.kp.privatePackage, [], peer.impl);
    peer.kp = null;
    return { epoch: Number(peer.state.groupContext.epoch) };
  },
  async add({ keyPackage, public: pub, ratchetTree = true }) {
    const kp = decode(keyPackage, "mls_key_package").keyPackage;
    const r = await createCommit(
      { state: needGroup(), cipherSuite: peer.impl },
      { extraProposals: [{ proposalType: "add", add: { keyPackage: kp } }], ratchetTreeExtension: ratchetTree, wireAsPublicMessage: !!pub },
    );
    peer.state = r.newState;
    return { commit: hex(encodeMlsMessage(r.commit)), welcome: enc("mls_welcome", "welcome", r.welcome), epoch: Number(peer.state.groupContext.epoch) };
  },
  async commit({ public: pub }) {
    const r = await createCommit({ state: needGroup(), cipherSuite: peer.impl }, { wireAsPublicMessage: !!pub });
    peer.state = r.newState;
    return { commit: hex(encodeMlsMessage(r.commit)), epoch: Number(peer.state.groupContext.epoch) };
  },
  async join({ welcome }) {
    if (!peer.kp) throw new Error("no pending KeyPackage");
    const w = decode(welcome, "mls_welcome").welcome;
    peer.state = await joinGroup(w, peer.kp.publicPackage, peer.kp.privatePackage, emptyPskIndex, peer.impl);
    peer.kp = null;
    return { epoch: Number(peer.state.groupContext.epoch) };
  },
  async process({ message }) {
    const m = decode(message, ["mls_public_message", "mls_private_message"]);
    const r = await processMessage(m, needGroup(), emptyPskIndex, acceptAll, peer.impl);
    peer.state = r.newState;
    if (r.kind === "applicationMessage") return { plaintext: hex(r.message) };
    return { epoch: Number(peer.state.groupContext.epoch) };
  },
  async protect({ plaintext, aad }) {
    const r = await createApplicationMessage(needGroup(), unhex(plaintext), peer.impl, unhex(aad));
    peer.state = r.newState;
    return { message: enc("mls_private_message", "privateMessage", r.privateMessage) };
  },
  async unprotect({ message }) {
    const r = await ops.process({ message });
    if (r.plaintext === undefined) throw new Error("not an application message");
    return r;
  },
  async state() {
    const s = needGroup();
    const members = s.ratchetTree.filter((n, i) => i % 2 === 0 && n !== undefined).length;
    return { epoch: Number(s.groupContext.epoch), epochAuthenticator: hex(s.keySchedule.epochAuthenticator), members };
  },
  async export({ label, context, length }) {
    const s = needGroup();
    return { secret: hex(await mlsExporter(s.keySchedule.exporterSecret, label, unhex(context), length, peer.impl)) };
  },
};

const rl = createInterface({ input: process.stdin, terminal: false });
let chain = Promise.resolve();
rl.on("line", (line) => {
  chain = chain.then(async () => {
    let req = {};
    try {
      req = JSON.parse(line);
      const fn = ops[req.op];
      if (!fn) throw new Error(`unknown op ${req.op}`);
      const res = await fn(req);
      process.stdout.write(JSON.stringify({ id: req.id, ok: true, ...res }) + "\n");
    } catch (e) {
      process.stdout.write(JSON.stringify({ id: req.id, ok: false, error: String(e?.message ?? e) }) + "\n");
    }
  });
});
