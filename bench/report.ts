/**
 * Turns comparison results into Markdown (printed, and optionally written for the README).
 *
 * @module
 */

import type { EngineResult, WorkloadName, WorkloadResult, WorkloadSettings } from "./workloads.ts";

/** Run-wide facts recorded next to the results. */
export interface ReportMeta {
  /** ISO timestamp of the start of the run. */
  date: string;
  /** Keys per database / ops per workload. */
  n: number;
  /** Whether `--quick` chose N. */
  quick: boolean;
  /** Key size in bytes. */
  keySize: number;
  /** Value size in bytes. */
  valueSize: number;
  /** Engines in run order. */
  engines: string[];
  /** Workloads selected, in run order. */
  workloads: WorkloadName[];
  /** Runtime and machine description. */
  runtime: { deno: string; v8: string; os: string; arch: string; cpu: string; cores: number };
  /** Harness settings that shape the numbers. */
  settings: WorkloadSettings & {
    memtableSize: number;
    cacheSize: number;
    asyncReads: boolean;
    capSeconds: number;
    kvCapSeconds: number;
  };
  /** Raw append + fdatasync rate of the scratch filesystem, measured in the same run. */
  fdatasync?: { ops: number; seconds: number; opsPerSec: number };
  /** Wall time of the whole run. */
  durationSeconds: number;
}

/** The complete output of a comparison run (also the JSON written by `--json`). */
export interface CompareReport {
  /** Run-wide facts. */
  meta: ReportMeta;
  /** One entry per engine, in run order. */
  engines: EngineResult[];
}

const UNIT_LABEL: Record<string, string> = { ops: "ops/s", entries: "entries/s", seeks: "seeks/s" };

function fmtRate(x: number): string {
  if (x >= 100) return Math.round(x).toLocaleString("en-US");
  return x.toFixed(1);
}

function fmtUs(x: number): string {
  if (x < 10) return x.toFixed(2);
  if (x < 100) return x.toFixed(1);
  return Math.round(x).toLocaleString("en-US");
}

function fmtMiB(bytes: number): string {
  return `${(bytes / 1048576).toFixed(1)} MiB`;
}

function usable(r: WorkloadResult | undefined): r is WorkloadResult {
  return r !== undefined && r.error === undefined && r.opsPerSec > 0;
}

/** Strata's rate over the best peer's for `w`, with that peer's name; undefined if either lacks. */
export function strataRatio(
  engines: EngineResult[],
  w: WorkloadName,
): { ratio: number; peer: string } | undefined {
  const strata = engines.find((e) => e.engine === "strata")?.workloads[w];
  if (!usable(strata)) return undefined;
  let best: { rate: number; peer: string } | undefined;
  for (const e of engines) {
    const r = e.workloads[w];
    if (e.engine === "strata" || !usable(r)) continue;
    if (!best || r.opsPerSec > best.rate) best = { rate: r.opsPerSec, peer: e.engine };
  }
  return best ? { ratio: strata.opsPerSec / best.rate, peer: best.peer } : undefined;
}

function table(header: string[], align: ("l" | "r")[], rows: string[][]): string[] {
  return [
    `| ${header.join(" | ")} |`,
    `| ${align.map((a) => a === "r" ? "---:" : "---").join(" | ")} |`,
    ...rows.map((r) => `| ${r.join(" | ")} |`),
  ];
}

/** Renders the whole report as Markdown. */
export function renderMarkdown(report: CompareReport): string {
  const { meta, engines } = report;
  const names = engines.map((e) => e.engine);
  const hasStrata = names.includes("strata");
  const lines: string[] = [];
  const rt = meta.runtime;

  lines.push(`## Strata vs. peers (db_bench-style)`, "");
  lines.push(
    `N = ${meta.n.toLocaleString("en-US")}${meta.quick ? " (--quick)" : ""} · ${meta.keySize} B ` +
      `keys · ${meta.valueSize} B incompressible values · Deno ${rt.deno} (V8 ${rt.v8}) · ` +
      `${rt.os} ${rt.arch}, ${rt.cpu}, ${rt.cores} cores · ${meta.date.slice(0, 10)} · ` +
      `run took ${Math.round(meta.durationSeconds)} s`,
  );
  if (meta.fdatasync) {
    lines.push(
      "",
      `Raw fdatasync on this filesystem (116 B append + fdatasync, node:fs): ` +
        `**${fmtRate(meta.fdatasync.opsPerSec)}/s** (${fmtUs(1e6 / meta.fdatasync.opsPerSec)} µs).`,
    );
  }
  lines.push("");

  const failed = engines.filter((e) => e.error);
  for (const e of failed) lines.push(`> **${e.engine}**: ${e.error}`, "");

  // Summary: one row per workload, rates only.
  lines.push("### Summary", "");
  const summaryRows = meta.workloads.map((w) => {
    const row: string[] = [w];
    for (const e of engines) {
      const r = e.workloads[w];
      row.push(
        r?.error ? "error" : usable(r) ? `${fmtRate(r.opsPerSec)}${r.capped ? "†" : ""}` : "–",
      );
    }
    if (hasStrata) {
      const s = strataRatio(engines, w);
      row.push(s ? `${s.ratio.toFixed(2)}× (${s.peer})` : "–");
    }
    return row;
  });
  lines.push(
    ...table(
      ["workload", ...names, ...(hasStrata ? ["strata / best peer"] : [])],
      ["l", ...names.map(() => "r" as const), ...(hasStrata ? ["r" as const] : [])],
      summaryRows,
    ),
  );
  lines.push(
    "",
    "Rates are ops/s, except entries/s for fillbatch, readseq and readreverse and seeks/s " +
      `(each reading ${meta.settings.seekEntries} entries) for seekrandom. ` +
      "† = stopped by a time cap; the rate is from the ops that ran.",
    "",
  );

  // Detail: one table per workload.
  for (const w of meta.workloads) {
    const unit = engines.map((e) => e.workloads[w]?.unit).find((u) => u) ?? "ops";
    const isSync = w === "fillsync" || w === "syncconcurrent";
    lines.push(`### ${w}`, "");
    const rows = engines.map((e) => {
      const r = e.workloads[w];
      if (!r) return [e.engine, "–", "–", "–", "not run"];
      if (r.error) return [e.engine, "–", "–", "–", `error: ${r.error}`];
      const notes: string[] = [];
      if (r.capped) notes.push(`capped after ${r.seconds.toFixed(1)} s`);
      if (isSync && meta.fdatasync) {
        notes.push(`${(100 * r.opsPerSec / meta.fdatasync.opsPerSec).toFixed(0)}% of fdatasync`);
      }
      if (r.detail) notes.push(r.detail);
      return [
        e.engine,
        fmtRate(r.opsPerSec),
        fmtUs(r.usPerOp),
        `${r.ops.toLocaleString("en-US")} / ${r.target.toLocaleString("en-US")}`,
        notes.join("; "),
      ];
    });
    lines.push(
      ...table(
        ["engine", UNIT_LABEL[unit], "µs/op", "done / asked", "note"],
        ["l", "r", "r", "r", "l"],
        rows,
      ),
    );
    const s = hasStrata ? strataRatio(engines, w) : undefined;
    if (s) lines.push("", `Strata / best peer (${s.peer}): **${s.ratio.toFixed(2)}×**`);
    lines.push("");
  }

  lines.push("### Space amplification and memory", "");
  lines.push(
    ...table(
      ["engine", "on disk after fill", "raw data", "space amp", "peak RSS", "RSS before open"],
      ["l", "r", "r", "r", "r", "r"],
      engines.map((e) => [
        e.engine,
        e.space ? fmtMiB(e.space.diskBytes) : "–",
        e.space ? fmtMiB(e.space.rawBytes) : "–",
        e.space ? `${e.space.amplification.toFixed(2)}×` : "–",
        e.peakRssBytes ? fmtMiB(e.peakRssBytes) : "–",
        e.baseRssBytes ? fmtMiB(e.baseRssBytes) : "–",
      ]),
    ),
  );
  lines.push(
    "",
    `Disk size is every file in the db directory right after the random fill of N keys ` +
      `(logs/WAL included, no forced flush or compaction); raw = N × ` +
      `${meta.keySize + meta.valueSize} B. Peak RSS is per engine (each runs in its own process) ` +
      "and includes the Deno runtime, the harness and garbage V8 had not collected yet (read results " +
      "are external ArrayBuffers, freed lazily); RSS after each workload is in the JSON.",
    "",
  );

  lines.push("### Settings", "");
  for (const e of engines) lines.push(`- **${e.engine}**: ${e.settings}`);
  lines.push(
    `- harness: sequential awaited ops (one at a time), caps ${meta.settings.capSeconds} s per ` +
      `workload (Deno KV ${meta.settings.kvCapSeconds} s, sync workloads ` +
      `${meta.settings.syncCapSeconds} s), fillsync ${meta.settings.syncOps} ops, ` +
      `syncconcurrent ${meta.settings.concurrentOps} ops over ${meta.settings.concurrency} ` +
      `writers, fillbatch ${meta.settings.batchSize} per batch, seed ${meta.settings.seed}`,
  );
  const notes = engines.flatMap((e) =>
    [
      ...e.notes,
      ...(e.space && e.space.filledBy !== "fillrandom"
        ? [`the random-phase db was filled by ${e.space.filledBy}`]
        : []),
    ].map((n) => `- ${e.engine}: ${n}`)
  );
  if (notes.length) lines.push("", "### Notes", "", ...notes);
  lines.push("");
  return lines.join("\n");
}
