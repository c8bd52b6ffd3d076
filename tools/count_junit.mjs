// Counts leaf tests and failures in JUnit XML files written by `deno test`
// and `bun test`. Deno lists a describe block and each of its steps as
// test cases ("outer > inner"); only the leaves are counted.
import { readFileSync } from "node:fs";

const decode = (s) =>
  s.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&quot;/g, '"').replace(/&apos;/g, "'")
    .replace(/&amp;/g, "&");

let passed = 0;
let failed = 0;
for (const file of process.argv.slice(2)) {
  let xml;
  try {
    xml = readFileSync(file, "utf8");
  } catch {
    failed++; // a runner that wrote no report counts as a failure
    continue;
  }
  const cases = [];
  const re = /<testcase\b([^>]*?)(\/>|>([\s\S]*?)<\/testcase>)/g;
  for (let m; (m = re.exec(xml)) !== null;) {
    const name = decode(/\bname="([^"]*)"/.exec(m[1])?.[1] ?? "");
    const file = /\b(?:classname|file)="([^"]*)"/.exec(m[1])?.[1] ?? "";
    const body = m[3] ?? "";
    cases.push({
      name,
      file,
      failed: /<(failure|error)\b/.test(body),
      skipped: /<skipped\b/.test(body),
    });
  }
  const names = new Set(cases.map((c) => c.name));
  const parents = new Set();
  for (const n of names) {
    const parts = n.split(" > ");
    for (let i = 1; i < parts.length; i++) parents.add(parts.slice(0, i).join(" > "));
  }
  for (const c of cases) {
    if (parents.has(c.name) && !c.failed) continue;
    if (c.skipped) continue;
    if (c.failed) failed++;
    else passed++;
  }
}
console.log(`${passed} ${failed}`);
