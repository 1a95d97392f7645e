/* Re-anchoring of passage comments: twin of townhall/discussions/anchoring.py, with the same
 * answers on tests/anchoring/cases.json. Offsets: UTF-16 units (Python's code points in BMP). */
(function () {
  "use strict";

  var CONTEXT_LENGTH = 32;
  // As in anchoring.py.
  var SELF_EVIDENT_LENGTH = 32, MIN_CONTEXT = 0.5, MAX_ERROR_RATE = 0.4, MAX_BOUNDARY_SHIFT = 24;
  var MIN_QUOTE = 0.75, MIN_QUOTE_IN_CONTEXT = 0.6, MIN_CONTEXT_FOR_REWRITES = 0.75;

  // Python's \s (str.isspace()), not JavaScript's: +U+001C..U+001F, U+0085, -U+FEFF.
  var WS = "\\t-\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";
  var SPACES = new RegExp("[" + WS + "]+", "g");
  var RUNS = new RegExp("[" + WS + "]{2,}", "g");

  function normalizeString(s) {
    return s.replace(/[\u2018-\u201b\u2032]/g, "'").replace(/[\u201c-\u201f\u2033]/g, '"').replace(SPACES, " ");
  }

  // How many leading i < n satisfy before(i).
  function bisect(n, before) {
    for (var lo = 0, hi = n; lo < hi; ) {
      var mid = (lo + hi) >> 1;
      if (before(mid)) lo = mid + 1; else hi = mid;
    }
    return lo;
  }

  var cached = null; // an article's comments share one normalization

  // runStarts[i]: normalized offset of the i-th run of 2+ spaces; shifts[i]: characters
  // removed by the first i runs.
  function normalize(text) {
    if (cached && cached.source === text) return cached;
    var runStarts = [], shifts = [0], removed = 0, run;
    RUNS.lastIndex = 0;
    while ((run = RUNS.exec(text))) {
      runStarts.push(run.index - removed);
      removed += run[0].length - 1;
      shifts.push(removed);
    }
    var norm = normalizeString(text);
    cached = {
      source: text,
      text: norm,
      toOriginal: function (o) {
        if (o >= norm.length) return text.length;
        return o + shifts[bisect(runStarts.length, function (i) { return runStarts[i] < o; })];
      },
      toNormalized: function (o) {
        var n = bisect(runStarts.length, function (i) { return runStarts[i] + shifts[i] < o; });
        // Inside a collapsed run: just after its one space.
        if (n && o < runStarts[n - 1] + shifts[n] + 1) return runStarts[n - 1] + 1;
        return Math.min(o - shifts[n], norm.length);
      },
    };
    return cached;
  }

  function describe(text, start, end) {
    if (!(0 <= start && start < end && end <= text.length)) throw new RangeError("invalid selection");
    return {
      exact: text.slice(start, end),
      prefix: text.slice(Math.max(0, start - CONTEXT_LENGTH), start),
      suffix: text.slice(end, end + CONTEXT_LENGTH),
      start: start,
      end: end,
    };
  }

  /* Myers' bit-parallel edit distance in edlib's block form: 32-row blocks pass their bottom
   * row's delta (+1/0/-1) down, so any query length runs on Int32. Returns D[m][j] for each
   * column j: the substring may start anywhere (HW) or, if anchored, at 0 (SHW/NW). */
  function columnScores(q, t, anchored) {
    var m = q.length, n = t.length, W = (m + 31) >> 5, lastBit = (m - 1) & 31;
    var peq = new Map(), none = new Int32Array(W), out = new Int32Array(n);
    for (var i = 0; i < m; i++) {
      var eq = peq.get(q.charCodeAt(i));
      if (!eq) peq.set(q.charCodeAt(i), (eq = new Int32Array(W)));
      eq[i >> 5] |= 1 << (i & 31);
    }
    var P = new Int32Array(W).fill(-1), M = new Int32Array(W), score = m; // column -1: D[i] = i
    for (var j = 0; j < n; j++) {
      var Eqs = peq.get(t.charCodeAt(j)) || none, h = anchored ? 1 : 0;
      for (var b = 0; b < W; b++) {
        var pv = P[b], mv = M[b], e = Eqs[b], xv = e | mv;
        if (h < 0) e |= 1; // an incoming -1 is a carry into the block's first row
        // `^` applies ToInt32: the sum wraps mod 2^32 like C's unsigned addition.
        var xh = (((e & pv) + pv) ^ pv) | e;
        var ph = mv | ~(xh | pv), mh = pv & xh;
        // Delta at the block's bottom row or the query's last (higher bits never reach lower).
        var bit = b === W - 1 ? lastBit : 31;
        var hout = (ph >>> bit) & 1 ? 1 : (mh >>> bit) & 1 ? -1 : 0;
        ph <<= 1;
        mh <<= 1;
        if (h < 0) mh |= 1; else if (h > 0) ph |= 1;
        P[b] = mh | ~(xv | ph);
        M[b] = ph & xv;
        h = hout;
      }
      out[j] = score += h;
    }
    return out;
  }

  function reverse(s) {
    return s.split("").reverse().join("");
  }

  // Global (NW) distance; like edlib, the query length for an empty target.
  function nw(q, t) {
    return t.length ? columnScores(q, t, true)[t.length - 1] : q.length;
  }

  // Query against a prefix of t of any length (SHW).
  function shw(q, t) {
    var s = columnScores(q, t, true), best = q.length;
    for (var j = 0; j < s.length; j++) if (s[j] < best) best = s[j];
    return best;
  }

  /* HW search with <= k edits, as edlib's "locations": the lowest distance and, per end that
   * reaches it, the earliest start that does (reversed query anchored at that end). */
  function search(q, t, k) {
    var s = columnScores(q, t, false), m = q.length, best = Math.min(k, m) + 1, j, hits = [];
    for (j = 0; j < s.length; j++) if (s[j] < best) best = s[j];
    if (best > Math.min(k, m)) return null;
    var rq = reverse(q);
    for (j = 0; j < s.length; j++) {
      if (s[j] !== best) continue;
      var r = columnScores(rq, reverse(t.slice(Math.max(0, j + 1 - m - best), j + 1)), true);
      for (var p = r.length - 1; r[p] !== best; p--);
      hits.push([j - p, j + 1]);
    }
    return { errors: best, hits: hits };
  }

  function score(c) {
    return (50 * c.quote + 20 * c.prefix + 20 * c.suffix + 2 * c.position) / 92; // as in Python
  }

  // Highest score, then nearest the old position, then earliest, then first seen (as max()).
  function best(candidates) {
    return candidates.reduce(function (top, c) {
      var a = score(c), b = score(top);
      return a > b || (a === b && (c.position > top.position || (c.position === top.position && c.start < top.start))) ? c : top;
    });
  }

  // The first offset of the lowest cost, as Python's min(range(...), key=...).
  function argmin(from, to, cost) {
    for (var o = from, at = from, low = Infinity; o <= to; o++) {
      var v = cost(o);
      if (v < low) { low = v; at = o; }
    }
    return at;
  }

  function locate(text, anchor) {
    if (anchor.quote) anchor = Object.assign({}, anchor.quote, anchor.position); // W3C JSON shape
    var exact = normalizeString(anchor.exact), n = exact.length;
    if (/^ *$/.test(exact)) return null;
    var norm = normalize(text), hay = norm.text;
    var prefix = normalizeString(anchor.prefix || ""), suffix = normalizeString(anchor.suffix || "");
    var hint = norm.toNormalized(anchor.start), scale = Math.max(hay.length, 1);
    var selfEvident = n >= SELF_EVIDENT_LENGTH;

    // Edits between the context and the text before `start` / after `end`.
    function prefixErrors(start) {
      var w = hay.slice(Math.max(0, start - prefix.length - 8), start);
      return w.endsWith(prefix) ? 0 : shw(reverse(prefix), reverse(w));
    }
    function suffixErrors(end) {
      var w = hay.slice(end, end + suffix.length + 8);
      return w.startsWith(suffix) ? 0 : shw(suffix, w);
    }
    function similarity(errors, length) {
      return length ? Math.max(0, 1 - errors / length) : 1;
    }
    function candidate(start, end, quote) {
      return {
        start: start,
        end: end,
        quote: quote,
        prefix: similarity(prefixErrors(start), prefix.length),
        suffix: similarity(suffixErrors(end), suffix.length),
        position: Math.max(0, 1 - Math.abs(start - hint) / scale),
      };
    }
    function context(c) {
      return Math.max(c.prefix, c.suffix);
    }
    function match(c, method) {
      // round(score, 4): toFixed differs only on exact binary ties.
      return { start: norm.toOriginal(c.start), end: norm.toOriginal(c.end), method: method, score: +score(c).toFixed(4) };
    }

    // 1. Exact position; short quotes also need context (a repeated word may have shifted in).
    if (0 <= anchor.start && anchor.start < anchor.end && anchor.end <= text.length &&
        text.slice(anchor.start, anchor.end) === anchor.exact) {
      var at = norm.toNormalized(anchor.start);
      if (selfEvident || context(candidate(at, at + n, 1)) >= MIN_CONTEXT) {
        return { start: anchor.start, end: anchor.end, method: "position", score: 1 };
      }
    }

    // 2. Exact quote anywhere (overlapping occurrences too).
    var found = [];
    for (var i = hay.indexOf(exact); i !== -1; i = hay.indexOf(exact, i + 1)) found.push(candidate(i, i + n, 1));
    if (found.length) return match(best(found), "quote");

    // 3. Approximate quote.
    var maxErrors = Math.max(1, Math.floor(n * MAX_ERROR_RATE));
    var result = search(exact, hay, maxErrors);
    var candidates = result ? result.hits.filter(function (h) { return h[1] > h[0]; }) : [];
    if (!candidates.length) return null;
    var c = best(candidates.map(function (h) { return candidate(h[0], h[1], 1 - result.errors / n); }));

    // Refine: an edit near an end leaves the boundary ambiguous; the context settles it.
    // Cost: edits, then distance moved (<= 24, hence * 64).
    var reach = Math.min(maxErrors, MAX_BOUNDARY_SHIFT), start = c.start, end = c.end;
    if (c.prefix < 1) {
      start = argmin(Math.max(0, start - reach), Math.min(end - 1, start + reach), function (o) {
        return (nw(exact, hay.slice(o, end)) + prefixErrors(o)) * 64 + Math.abs(o - c.start);
      });
    }
    if (c.suffix < 1 || start !== c.start) {
      end = argmin(Math.max(start + 1, end - reach), Math.min(hay.length, end + reach), function (o) {
        return (nw(exact, hay.slice(start, o)) + suffixErrors(o)) * 64 + Math.abs(o - c.end);
      });
    }
    if (start !== c.start || end !== c.end) c = candidate(start, end, similarity(nw(exact, hay.slice(start, end)), n));

    var accepted = c.quote >= MIN_QUOTE
      ? selfEvident || context(c) >= MIN_CONTEXT
      // A heavier rewrite is still the passage when both neighbours stayed put.
      : c.quote >= MIN_QUOTE_IN_CONTEXT && Math.min(c.prefix, c.suffix) >= MIN_CONTEXT_FOR_REWRITES;
    return accepted ? match(c, "fuzzy") : null;
  }

  window.TownhallAnchoring = { normalize: normalize, describe: describe, locate: locate };
})();
