// Checks that our proto/ files are wire-identical to etcd 3.4's originals.
// Builds both sets with buf (etcd's copy is made in a temp dir with gogoproto and
// google.api.http annotations stripped) and compares messages, enums and services
// in declaration order. Skipped when the etcd source tree is not installed.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { fromBinary, isFieldSet } from "@bufbuild/protobuf";
import { FieldDescriptorProtoSchema, FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const etcdRoot = process.env.ETCD_SRC ?? "/usr/share/gocode/src/go.etcd.io/etcd";
const files = {
  "etcdserverpb/rpc.proto": "etcdserver/etcdserverpb/rpc.proto",
  "mvccpb/kv.proto": "mvcc/mvccpb/kv.proto",
  "authpb/auth.proto": "auth/authpb/auth.proto",
  "v3lockpb/v3lock.proto": "etcdserver/api/v3lock/v3lockpb/v3lock.proto",
  "v3electionpb/v3election.proto": "etcdserver/api/v3election/v3electionpb/v3election.proto",
};

function stripEtcd(src) {
  return src
    .replace(/^import "(gogoproto\/gogo|google\/api\/annotations)\.proto";\n/gm, "")
    .replace(/^option \(gogoproto\.[^\n]*\n/gm, "")
    .replace(/option \(google\.api\.http\) = \{(?:[^{}]|\{[^{}]*\})*\};/g, "")
    .replace(/\s*\[\(gogoproto\.[^\]]*\]/g, "")
    .replace(/import "etcd\/etcdserver\/etcdserverpb\/rpc\.proto"/g, 'import "etcdserverpb/rpc.proto"')
    .replace(/import "etcd\/mvcc\/mvccpb\/kv\.proto"/g, 'import "mvccpb/kv.proto"')
    .replace(/import "etcd\/auth\/authpb\/auth\.proto"/g, 'import "authpb/auth.proto"');
}

function build(dir, out) {
  // buf is not a dependency (see scripts/genproto.sh); npx fetches the pinned version once.
  execFileSync("npx", ["--yes", "@bufbuild/buf@1.75.0", "build", "--exclude-source-info", "-o", out], { cwd: dir, stdio: "pipe" });
  return fromBinary(FileDescriptorSetSchema, readFileSync(out));
}

const T = (t) => t; // FieldDescriptorProto_Type / Label numeric values are compared as-is
function describeMessage(m, prefix, out) {
  const name = `${prefix}.${m.name}`;
  out.push(`message ${name}`);
  for (const f of m.field) {
    const oneof = isFieldSet(f, FieldDescriptorProtoSchema.field.oneofIndex) ? ` oneof=${m.oneofDecl[f.oneofIndex].name}` : "";
    out.push(`  field ${f.name} #${f.number} type=${T(f.type)} label=${f.label} typeName=${f.typeName ?? ""} json=${f.jsonName}${oneof}${f.proto3Optional ? " optional" : ""}`);
  }
  for (const o of m.oneofDecl) out.push(`  oneof ${o.name}`);
  for (const e of m.enumType) describeEnum(e, name, out);
  for (const n of m.nestedType) describeMessage(n, name, out);
}
function describeEnum(e, prefix, out) {
  out.push(`enum ${prefix}.${e.name}`);
  for (const v of e.value) out.push(`  value ${v.name}=${v.number}`);
}
function describeFile(fd) {
  const out = [`file ${fd.name} package=${fd.package} syntax=${fd.syntax} deps=${fd.dependency.join(",")}`];
  for (const m of fd.messageType) describeMessage(m, fd.package, out);
  for (const e of fd.enumType) describeEnum(e, fd.package, out);
  for (const s of fd.service) {
    out.push(`service ${fd.package}.${s.name}`);
    for (const m of s.method) {
      out.push(`  rpc ${m.name}(${m.clientStreaming ? "stream " : ""}${m.inputType}) returns (${m.serverStreaming ? "stream " : ""}${m.outputType})`);
    }
  }
  return out;
}

export function compare() {
  const tmp = mkdtempSync(join(tmpdir(), "etcdproto-"));
  try {
    const etcdDir = join(tmp, "etcd");
    for (const [ours, theirs] of Object.entries(files)) {
      mkdirSync(dirname(join(etcdDir, ours)), { recursive: true });
      writeFileSync(join(etcdDir, ours), stripEtcd(readFileSync(join(etcdRoot, theirs), "utf8")));
    }
    writeFileSync(join(etcdDir, "buf.yaml"), "version: v2\n");
    const etcdSet = build(etcdDir, join(tmp, "etcd.binpb"));
    const oursSet = build(root, join(tmp, "ours.binpb")) // repo-root buf.yaml (module: proto);
    const byName = (set) => new Map(set.file.map((f) => [f.name, f]));
    const a = byName(etcdSet), b = byName(oursSet);
    const report = { files: 0, lines: 0, diffs: [] };
    for (const name of Object.keys(files)) {
      const ea = describeFile(a.get(name)), eb = describeFile(b.get(name));
      report.files++;
      report.lines += ea.length;
      const n = Math.max(ea.length, eb.length);
      for (let i = 0; i < n; i++) if (ea[i] !== eb[i]) report.diffs.push(`${name}:${i}: etcd=${ea[i]} ours=${eb[i]}`);
    }
    return report;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

test("proto descriptors match etcd 3.4", { skip: !existsSync(join(etcdRoot, files["etcdserverpb/rpc.proto"])) && "etcd source not installed" }, () => {
  const r = compare();
  assert.deepEqual(r.diffs, []);
  console.log(`compared ${r.files} files, ${r.lines} descriptor lines, 0 differences`);
});
