// The watch checker: etcd's watch guarantees (https://etcd.io/docs/v3.4/learning/api_guarantees/
// "Watch APIs"; etcd's robustness suite validate/watch.go lists the same) for every
// logical watch of a history, against the committed history (committed.ts):
// - ordered: events come in revision order, across the streams of a resumed watch;
// - unique: no event (revision, key) comes twice;
// - atomic: the events of one revision come in one response;
// - reliable: no event of the committed history in the watched range is missing
//   between the watch's start revision and the end of the run (no gaps);
// - resumable: a watch reopened from the revision after the last one it saw goes on
//   exactly where it stopped (checked as part of reliable: the streams concatenated
//   must equal the committed history);
// - bookmarkable: after a progress notification at revision R no event at a revision
//   <= R comes any more;
// - every event is the committed one: same key, value, create/mod revision, version,
//   lease; prev_kv (when asked for) is the key before the revision;
// - events match the filter: the key is in the range, NOPUT/NODELETE are honoured.

import { inRange, kvText, type WatchEvent, type WatchRecord } from './history.js';
import type { Committed, Violation } from './committed.js';
import { kvEqual } from './model.js';

/** Checks every watch against the committed history; returns the number of events checked. */
export function checkWatches(watches: readonly WatchRecord[], c: Committed, violations: Violation[], opts: { requireCaughtUp?: boolean } = {}): number {
  let checked = 0;
  for (const w of watches) checked += checkWatch(w, c, violations, opts.requireCaughtUp ?? true);
  return checked;
}

function matchesFilter(w: WatchRecord, ev: WatchEvent): boolean {
  if (!inRange(ev.kv.key, w.key, w.end)) return false;
  if (ev.type === 'put' && w.filters.includes('noput')) return false;
  if (ev.type === 'delete' && w.filters.includes('nodelete')) return false;
  return true;
}

function checkWatch(w: WatchRecord, c: Committed, violations: Violation[], requireCaughtUp: boolean): number {
  const name = `watch ${w.id} (${w.key}${w.end ? `..${w.end === '\0' ? '∞' : w.end}` : ''} from ${w.startRevision}${w.filters.length ? `, ${w.filters.join(',')}` : ''}${w.prevKv ? ', prev_kv' : ''})`;
  const v = (kind: string, message: string) => violations.push({ kind, message: `${name}: ${message}` });
  const seen = new Set<string>();
  /** The revision each delivered revision came in (response index), for atomicity. */
  const responseOf = new Map<number, string>();
  let lastRev = 0;
  let progress = 0;
  const got: WatchEvent[] = [];
  w.segments.forEach((seg, si) => {
    if (si > 0) {
      const expectStart = Math.max(lastRev, progress, w.startRevision - 1) + 1;
      if (seg.startRevision > expectStart) v('watch-resume', `stream ${si} reopened from revision ${seg.startRevision}, after revision ${expectStart - 1} was the last seen (a gap)`);
    }
    seg.responses.forEach((resp, ri) => {
      if (resp.progress) {
        if (resp.headerRevision < lastRev) v('watch-bookmark', `progress notification at revision ${resp.headerRevision} after an event at revision ${lastRev}`);
        progress = Math.max(progress, resp.headerRevision);
        return;
      }
      for (const ev of resp.events) {
        const r = ev.kv.modRevision;
        const id = `${r}\0${ev.kv.key}`;
        if (seen.has(id)) {
          v('watch-duplicate', `event ${ev.type} ${kvText(ev.kv)} at revision ${r} delivered twice`);
          continue;
        }
        seen.add(id);
        if (r < lastRev) v('watch-order', `event at revision ${r} (${ev.kv.key}) after one at revision ${lastRev}`);
        if (r <= progress) v('watch-bookmark', `event at revision ${r} (${ev.kv.key}) after a progress notification at revision ${progress}`);
        if (r < w.startRevision) v('watch-order', `event at revision ${r} before the start revision ${w.startRevision}`);
        const where = `${si}/${ri}`;
        const before = responseOf.get(r);
        if (before !== undefined && before !== where) v('watch-atomic', `the events of revision ${r} came in more than one response`);
        responseOf.set(r, where);
        if (!matchesFilter(w, ev)) v('watch-filter', `event ${ev.type} ${kvText(ev.kv)} does not match the watch's range or filter`);
        lastRev = Math.max(lastRev, r);
        got.push(ev);
      }
    });
  });
  // the committed events in range, from the start revision to the end of the history
  const want: WatchEvent[] = [];
  for (let r = Math.max(w.startRevision, c.first + 1); r <= c.last; r++) for (const ev of c.events.get(r) ?? []) if (matchesFilter(w, ev)) want.push(ev);
  const key = (e: WatchEvent) => `${e.kv.modRevision}\0${e.kv.key}`;
  const gotByKey = new Map(got.map((e) => [key(e), e]));
  const coveredTo = Math.max(lastRev, progress);
  for (const ev of want) {
    const g = gotByKey.get(key(ev));
    if (!g) {
      if (ev.kv.modRevision <= coveredTo || requireCaughtUp) v('watch-missing', `missing the committed event ${ev.type} ${kvText(ev.kv)} at revision ${ev.kv.modRevision} (saw up to revision ${coveredTo})`);
      continue;
    }
    if (g.type !== ev.type || (ev.type === 'put' && !kvEqual(g.kv, ev.kv))) v('watch-event', `event at revision ${ev.kv.modRevision} is ${g.type} ${kvText(g.kv)}, the committed one is ${ev.type} ${kvText(ev.kv)}`);
    if (w.prevKv) {
      const before = c.stateAt(ev.kv.modRevision - 1)?.get(ev.kv.key);
      if (!kvEqual(g.prevKv ?? null, before ?? null)) v('watch-prev-kv', `event ${g.type} ${g.kv.key} at revision ${ev.kv.modRevision} has prev_kv ${kvText(g.prevKv)}, the key was ${kvText(before)}`);
    } else if (g.prevKv) {
      v('watch-prev-kv', `event at revision ${ev.kv.modRevision} carries a prev_kv the watch did not ask for`);
    }
  }
  const wantKeys = new Set(want.map(key));
  for (const g of got) if (!wantKeys.has(key(g)) && g.kv.modRevision <= c.last && g.kv.modRevision > c.first) v('watch-phantom', `event ${g.type} ${kvText(g.kv)} at revision ${g.kv.modRevision} is not in the committed history`);
  for (const g of got) if (g.kv.modRevision > c.last) v('watch-phantom', `event ${g.type} ${kvText(g.kv)} at revision ${g.kv.modRevision} is beyond the committed history (last revision ${c.last})`);
  return got.length;
}
