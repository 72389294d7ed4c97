"""Reports from results.json documents: Markdown and self-contained HTML for
one run, an N-implementation matrix (full and pruned to disagreements), and
`regress` (two runs of one implementation)."""
import html
import json
import os

from qct_score import BAD_OUTCOMES, OUTCOMES, PASS, SKIP, XFAIL

COLORS = {"PASS": "#c8efc8", "FAIL": "#f5b5b5", "SKIP": "#e4e4e4", "CRASH": "#e08080",
          "TIMEOUT": "#f0c890", "ERROR": "#d6b0e8", "XFAIL": "#f3e3a0",
          "UNEXPECTED_PASS": "#9fd0f0", None: "#ffffff"}
CSS = """
body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse;margin:.6em 0}
td,th{border:1px solid #bbb;padding:2px 6px;font-size:13px;vertical-align:top}
th{background:#eee;position:sticky;top:0}
td.o{text-align:center;white-space:nowrap}
code{font-size:12px}
.detail{font-size:12px;color:#444;max-width:60em}
h2{border-bottom:1px solid #ccc;margin-top:1.6em}
"""


def write_json(doc, path):
    d = os.path.dirname(path)
    if d:
        os.makedirs(d, exist_ok=True)
    with open(path, "w") as f:
        json.dump(doc, f, indent=1, sort_keys=False)
        f.write("\n")


def cell_key(r):
    """What the matrix compares: outcome, plus ACCEPT/REJECT for i_ passes."""
    if r is None:
        return None
    o = r["outcome"]
    if r.get("i_outcome") and o == PASS:
        return "%s (%s)" % (o, r["i_outcome"])
    return o


def _rate(p, n):
    return "-" if n == 0 else "%.0f%%" % (100.0 * p / n)


def per_group(results, keyfn):
    """{group: {outcome: count}}; a result may belong to several groups."""
    out = {}
    for r in results:
        for g in keyfn(r):
            d = out.setdefault(g, {})
            d[r["outcome"]] = d.get(r["outcome"], 0) + 1
    return out


def _clause_keys(r):
    return r.get("clauses") or ["(none)"]


def _kind_keys(r):
    return [r.get("kind") or "(none)"]


def _feature_keys(r):
    return r.get("features") or ["(none)"]


def _area_keys(r):
    return [r.get("area") or r["id"].split("_")[1]]


def _counts_row(d):
    total = sum(d.values())
    passed = d.get(PASS, 0) + d.get(XFAIL, 0) * 0
    judged = total - d.get(SKIP, 0)
    return total, passed, judged


def md_escape(s):
    return str(s if s is not None else "").replace("|", "\\|").replace("\n", " ")


# ------------------------------------------------------------------ one run

def render_md(doc):
    s, sut = doc["summary"], doc["sut"]
    res = doc["results"]
    L = ["# qcow2 conformance: %s %s" % (sut["name"], sut["version"]), ""]
    L.append("Suite `%s` (commit `%s`), %s, %s/%s, %s s. Features: %s." % (
        doc["suite"]["version"], doc["suite"].get("commit"), doc["run_info"].get("started"),
        doc["run_info"].get("os"), doc["run_info"].get("arch"), doc["run_info"].get("duration_s"),
        ", ".join(sut["capabilities"].get("features_used", sut["capabilities"].get("features", [])))))
    L += ["", "## Summary", "", "| " + " | ".join(k for k in s) + " |",
          "|" + "---|" * len(s), "| " + " | ".join(str(v) for v in s.values()) + " |", ""]
    L += ["## Per area", "", "| area | vectors | pass | fail | skip | crash | timeout | error | xfail | pass rate |",
          "|---|---|---|---|---|---|---|---|---|---|"]
    for area, d in sorted(per_group(res, _area_keys).items()):
        total, passed, judged = _counts_row(d)
        L.append("| %s | %d | %d | %d | %d | %d | %d | %d | %d | %s |" % (
            area, total, passed, d.get("FAIL", 0), d.get("SKIP", 0), d.get("CRASH", 0),
            d.get("TIMEOUT", 0), d.get("ERROR", 0), d.get("XFAIL", 0), _rate(passed, judged)))
    for title, keyfn in (("Per kind (of the primary clause)", _kind_keys),
                         ("Per feature (vectors that need it)", _feature_keys)):
        L += ["", "## " + title, "", "| group | vectors | pass | fail | skip | crash | timeout | error | xfail | pass rate |",
              "|---|---|---|---|---|---|---|---|---|---|"]
        for g, d in sorted(per_group(res, keyfn).items()):
            total, passed, judged = _counts_row(d)
            L.append("| %s | %d | %d | %d | %d | %d | %d | %d | %d | %s |" % (
                g, total, passed, d.get("FAIL", 0), d.get("SKIP", 0), d.get("CRASH", 0),
                d.get("TIMEOUT", 0), d.get("ERROR", 0), d.get("XFAIL", 0), _rate(passed, judged)))
    lim = [r for r in res if r.get("impl_limit")]
    if lim:
        L += ["", "## Implementation limits (scored separately)", "",
              "QEMU's own limits (vectors/lists/impl_limits.json); a failure here does not fail "
              "the run unless --strict-limits.", "", "| id | outcome | detail |", "|---|---|---|"]
        L += ["| `%s` | %s | %s |" % (r["id"], r["outcome"], md_escape(r["detail"])) for r in lim]
    warned = [r for r in res if r.get("warning")]
    if warned:
        L += ["", "## Warnings (%d)" % len(warned), "", "| id | warning |", "|---|---|"]
        L += ["| `%s` | %s |" % (r["id"], md_escape(r["warning"])) for r in warned]
    bad = [r for r in res if r["outcome"] in BAD_OUTCOMES]
    L += ["", "## Failures (%d)" % len(bad), ""]
    if bad:
        L += ["| id | outcome | detail | first stderr line |", "|---|---|---|---|"]
        for r in bad:
            L.append("| `%s` | %s | %s | %s |" % (r["id"], r["outcome"], md_escape(r["detail"]),
                                                   md_escape(r.get("error_line"))))
    else:
        L.append("None.")
    xf = [r for r in res if r["outcome"] == XFAIL]
    if xf:
        L += ["", "## Known failures (XFAIL, %d)" % len(xf), "", "| id | detail |", "|---|---|"]
        L += ["| `%s` | %s |" % (r["id"], md_escape(r["detail"])) for r in xf]
    ii = [r for r in res if r["verdict"] == "acceptable"]
    if ii:
        L += ["", "## Implementation-defined (i_) outcomes", "", "| id | outcome | detail |", "|---|---|---|"]
        L += ["| `%s` | %s | %s |" % (r["id"], cell_key(r), md_escape(r["detail"])) for r in ii]
    mism = [r for r in res if r.get("error_match") is False]
    L += ["", "## Strict errors", "",
          "%d of %d rejections name the primary clause or error class on the first stderr line." % (
              sum(1 for r in res if r.get("error_match")), sum(1 for r in res if r.get("error_match") is not None))]
    if mism:
        L += ["", "| id | primary clause | first stderr line |", "|---|---|---|"]
        L += ["| `%s` | `%s` | %s |" % (r["id"], (r["clauses"] or ["-"])[0], md_escape(r.get("error_line")))
              for r in mism[:200]]
    infos = [r for r in res if (r.get("checks") or {}).get("info") == "FAIL"]
    if infos:
        L += ["", "## info mismatches (informational)", "", "| id | detail |", "|---|---|"]
        L += ["| `%s` | %s |" % (r["id"], md_escape(r["checks"].get("info_detail"))) for r in infos]
    skips = {}
    for r in res:
        if r["outcome"] == SKIP:
            skips[r["detail"]] = skips.get(r["detail"], 0) + 1
    if skips:
        L += ["", "## Skips", "", "| reason | vectors |", "|---|---|"]
        L += ["| %s | %d |" % (md_escape(k), v) for k, v in sorted(skips.items(), key=lambda x: -x[1])]
    L += ["", "## Per clause", "", "| clause | vectors | pass | judged | pass rate |", "|---|---|---|---|---|"]
    for c, d in sorted(per_group(res, _clause_keys).items()):
        total, passed, judged = _counts_row(d)
        L.append("| `%s` | %d | %d | %d | %s |" % (c, total, passed, judged, _rate(passed, judged)))
    L += ["", "## All results", "", "| id | verdict | outcome | ms | detail |", "|---|---|---|---|---|"]
    for r in res:
        L.append("| `%s` | %s | %s | %d | %s |" % (r["id"], r["verdict"], cell_key(r),
                                                  r.get("duration_ms", 0), md_escape(r["detail"])))
    return "\n".join(L) + "\n"


def _td(outcome_key, title=""):
    base = outcome_key.split(" ")[0] if outcome_key else None
    return '<td class="o" style="background:%s" title="%s">%s</td>' % (
        COLORS.get(base, "#fff"), html.escape(title or ""), html.escape(outcome_key or "–"))


def _page(title, body):
    return ("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>%s</title><style>%s</style>"
            "</head><body>%s</body></html>\n" % (html.escape(title), CSS, body))


def _clause_table(docs):
    names = [_sut_label(d) for d in docs]
    groups = [per_group(d["results"], _clause_keys) for d in docs]
    clauses = sorted(set(c for g in groups for c in g))
    h = ["<table><tr><th>clause</th>%s</tr>" % "".join("<th>%s</th>" % html.escape(n) for n in names)]
    for c in clauses:
        cells = []
        for g in groups:
            d = g.get(c, {})
            total, passed, judged = _counts_row(d)
            rate = _rate(passed, judged)
            color = "#fff" if judged == 0 else ("#c8efc8" if passed == judged else
                                                 "#f5b5b5" if passed == 0 else "#f3e3a0")
            cells.append('<td class="o" style="background:%s">%s <small>(%d/%d)</small></td>'
                         % (color, rate, passed, judged))
        h.append("<tr><td><code>%s</code></td>%s</tr>" % (html.escape(c), "".join(cells)))
    h.append("</table>")
    return "".join(h)


def render_html(doc):
    s, sut, res = doc["summary"], doc["sut"], doc["results"]
    b = ["<h1>qcow2 conformance: %s %s</h1>" % (html.escape(str(sut["name"])), html.escape(str(sut["version"])))]
    b.append("<p>Suite <code>%s</code> (commit <code>%s</code>), started %s, %s s.</p>" % (
        html.escape(doc["suite"]["version"]), html.escape(str(doc["suite"].get("commit"))),
        html.escape(str(doc["run_info"].get("started"))), doc["run_info"].get("duration_s")))
    b.append("<h2>Summary</h2><table><tr>%s</tr><tr>%s</tr></table>" % (
        "".join("<th>%s</th>" % k for k in s), "".join("<td class=o>%s</td>" % v for v in s.values())))
    b.append("<h2>Per area</h2><table><tr><th>area</th>%s<th>pass rate</th></tr>" %
             "".join("<th>%s</th>" % o for o in OUTCOMES))
    for area, d in sorted(per_group(res, _area_keys).items()):
        total, passed, judged = _counts_row(d)
        b.append("<tr><td>%s</td>%s<td class=o>%s</td></tr>" % (
            html.escape(area), "".join("<td class=o>%s</td>" % (d.get(o, "") or "") for o in OUTCOMES),
            _rate(passed, judged)))
    b.append("</table>")
    for title, keyfn in (("Per kind (of the primary clause)", _kind_keys),
                         ("Per feature (vectors that need it)", _feature_keys)):
        b.append("<h2>%s</h2><table><tr><th>group</th>%s<th>pass rate</th></tr>" % (
            title, "".join("<th>%s</th>" % o for o in OUTCOMES)))
        for g, d in sorted(per_group(res, keyfn).items()):
            total, passed, judged = _counts_row(d)
            b.append("<tr><td>%s</td>%s<td class=o>%s</td></tr>" % (
                html.escape(g), "".join("<td class=o>%s</td>" % (d.get(o, "") or "")
                                        for o in OUTCOMES), _rate(passed, judged)))
        b.append("</table>")
    warned = [r for r in res if r.get("warning")]
    if warned:
        b.append("<h2>Warnings (%d)</h2><table><tr><th>id</th><th>warning</th></tr>" % len(warned))
        b += ["<tr><td><code>%s</code></td><td class=detail>%s</td></tr>" % (
            html.escape(r["id"]), html.escape(r["warning"])) for r in warned]
        b.append("</table>")
    bad = [r for r in res if r["outcome"] in BAD_OUTCOMES]
    b.append("<h2>Failures (%d)</h2>" % len(bad))
    if bad:
        b.append("<table><tr><th>id</th><th>outcome</th><th>detail</th><th>first stderr line</th></tr>")
        for r in bad:
            b.append("<tr><td><code>%s</code></td>%s<td class=detail>%s</td><td class=detail><code>%s</code></td></tr>" % (
                html.escape(r["id"]), _td(r["outcome"]), html.escape(r["detail"]),
                html.escape(r.get("error_line") or "")))
        b.append("</table>")
    b.append("<h2>All results</h2><table><tr><th>id</th><th>verdict</th><th>outcome</th><th>ms</th><th>detail</th><th>first stderr line</th></tr>")
    for r in res:
        b.append("<tr><td><code>%s</code></td><td>%s</td>%s<td class=o>%d</td><td class=detail>%s</td><td class=detail><code>%s</code></td></tr>" % (
            html.escape(r["id"]), r["verdict"], _td(cell_key(r)), r.get("duration_ms", 0),
            html.escape(r["detail"]), html.escape(r.get("error_line") or "")))
    b.append("</table><h2>Per clause</h2>")
    b.append(_clause_table([doc]))
    return _page("qcow2 conformance: %s" % sut["name"], "".join(b))


def write_single(doc, out_dir):
    os.makedirs(out_dir, exist_ok=True)
    write_json(doc, os.path.join(out_dir, "results.json"))
    with open(os.path.join(out_dir, "report.md"), "w") as f:
        f.write(render_md(doc))
    with open(os.path.join(out_dir, "report.html"), "w") as f:
        f.write(render_html(doc))


# ------------------------------------------------------------------ matrix

def _sut_label(doc):
    return "%s %s" % (doc["sut"]["name"], doc["sut"]["version"])


def matrix_rows(docs):
    """[(id, verdict, clauses, [result or None per doc])] in first-seen order."""
    order, info = [], {}
    for d in docs:
        for r in d["results"]:
            if r["id"] not in info:
                order.append(r["id"])
                info[r["id"]] = r
    maps = [{r["id"]: r for r in d["results"]} for d in docs]
    return [(i, info[i]["verdict"], info[i].get("clauses") or [], [m.get(i) for m in maps])
            for i in order]


def disagrees(cells):
    keys = set(cell_key(c) for c in cells if c is not None and c["outcome"] != SKIP)
    return len(keys) > 1


def render_matrix_md(docs):
    names = [_sut_label(d) for d in docs]
    rows = matrix_rows(docs)
    L = ["# qcow2 conformance matrix", "",
         "Suite `%s`. Cells: outcome (i_ passes add ACCEPT/REJECT). Pruned view: vectors where "
         "the implementations that ran it disagree (SKIP does not count)." % docs[0]["suite"]["version"], "",
         "## Summary", "", "| implementation | pass | fail | skip | crash | timeout | error | xfail | i_accept | i_reject |",
         "|---|---|---|---|---|---|---|---|---|---|"]
    for n, d in zip(names, docs):
        s = d["summary"]
        L.append("| %s | %d | %d | %d | %d | %d | %d | %d | %d | %d |" % (
            n, s["pass"], s["fail"], s["skip"], s["crash"], s["timeout"], s["error"],
            s.get("xfail", 0), s["i_accept"], s["i_reject"]))
    head = "| id | verdict | " + " | ".join(names) + " |"
    sep = "|---|---|" + "---|" * len(names)
    pruned = [r for r in rows if disagrees(r[3])]
    L += ["", "## Disagreements (%d of %d vectors)" % (len(pruned), len(rows)), "", head, sep]
    for i, verdict, _, cells in pruned:
        L.append("| `%s` | %s | %s |" % (i, verdict, " | ".join(cell_key(c) or "–" for c in cells)))
    L += ["", "## Per area pass rate (pass / judged)", "", "| area | " + " | ".join(names) + " |",
          "|---|" + "---|" * len(names)]
    groups = [per_group(d["results"], _area_keys) for d in docs]
    for area in sorted(set(a for g in groups for a in g)):
        cells = []
        for g in groups:
            total, passed, judged = _counts_row(g.get(area, {}))
            cells.append("%s (%d/%d)" % (_rate(passed, judged), passed, judged))
        L.append("| %s | %s |" % (area, " | ".join(cells)))
    L += ["", "## Per clause pass rate (pass / judged)", "", "| clause | " + " | ".join(names) + " |",
          "|---|" + "---|" * len(names)]
    groups = [per_group(d["results"], _clause_keys) for d in docs]
    for c in sorted(set(a for g in groups for a in g)):
        cells = []
        for g in groups:
            total, passed, judged = _counts_row(g.get(c, {}))
            cells.append("%s (%d/%d)" % (_rate(passed, judged), passed, judged))
        L.append("| `%s` | %s |" % (c, " | ".join(cells)))
    L += ["", "## Full matrix", "", head, sep]
    for i, verdict, _, cells in rows:
        L.append("| `%s` | %s | %s |" % (i, verdict, " | ".join(cell_key(c) or "–" for c in cells)))
    return "\n".join(L) + "\n"


def render_matrix_html(docs):
    names = [_sut_label(d) for d in docs]
    rows = matrix_rows(docs)
    b = ["<h1>qcow2 conformance matrix</h1><p>Suite <code>%s</code>. Hover a cell for the detail. "
         "<label><input type=checkbox id=prune checked onchange=\"document.body.classList.toggle('all',!this.checked)\"> "
         "show only disagreements</label> (vectors where the implementations that ran it disagree; SKIP does not count).</p>"
         % html.escape(docs[0]["suite"]["version"])]
    b.append("<style>tr.agree{display:none} body.all tr.agree{display:table-row}</style>")
    b.append("<h2>Summary</h2><table><tr><th>implementation</th>%s</tr>" % "".join(
        "<th>%s</th>" % k for k in ("pass", "fail", "skip", "crash", "timeout", "error", "xfail", "i_accept", "i_reject")))
    for n, d in zip(names, docs):
        s = d["summary"]
        b.append("<tr><td>%s</td>%s</tr>" % (html.escape(n), "".join(
            "<td class=o>%s</td>" % s.get(k, 0) for k in ("pass", "fail", "skip", "crash", "timeout",
                                                            "error", "xfail", "i_accept", "i_reject"))))
    b.append("</table>")
    pruned = sum(1 for r in rows if disagrees(r[3]))
    b.append("<h2>Vectors (%d disagreements of %d)</h2>" % (pruned, len(rows)))
    b.append("<table><tr><th>id</th><th>verdict</th><th>primary clause</th>%s</tr>" %
             "".join("<th>%s</th>" % html.escape(n) for n in names))
    for i, verdict, clauses, cells in rows:
        cls = "" if disagrees(cells) else " class=agree"
        tds = "".join(_td(cell_key(c), (c or {}).get("detail", "") + (
            "\n" + c["error_line"] if c and c.get("error_line") else "")) for c in cells)
        b.append("<tr%s><td><code>%s</code></td><td>%s</td><td><code>%s</code></td>%s</tr>" % (
            cls, html.escape(i), verdict, html.escape(clauses[0] if clauses else ""), tds))
    b.append("</table><h2>Per clause pass rate</h2>")
    b.append(_clause_table(docs))
    return _page("qcow2 conformance matrix", "".join(b))


def write_matrix(docs, out_dir):
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "matrix.md"), "w") as f:
        f.write(render_matrix_md(docs))
    with open(os.path.join(out_dir, "matrix.html"), "w") as f:
        f.write(render_matrix_html(docs))


# ------------------------------------------------------------------ regress

GOOD = {PASS, XFAIL, SKIP}


PASSING = {PASS, XFAIL}


def regress(old, new):
    """Text and the number of regressions (newly failing vectors). A vector
    that now SKIPs is neither newly passing (FAIL -> SKIP) nor unnoticed:
    PASS -> SKIP is lost coverage, listed on its own."""
    o = {r["id"]: r for r in old["results"]}
    n = {r["id"]: r for r in new["results"]}
    newly_failing, newly_passing, changed, lost, unjudged = [], [], [], [], []
    for i, r in n.items():
        p = o.get(i)
        if p is None:
            if r["outcome"] in BAD_OUTCOMES:
                newly_failing.append((i, "new vector", r))
            continue
        if r["outcome"] == SKIP and p["outcome"] != SKIP:
            (lost if p["outcome"] in PASSING else unjudged).append((i, cell_key(p), r))
        elif p["outcome"] not in BAD_OUTCOMES and r["outcome"] in BAD_OUTCOMES:
            newly_failing.append((i, cell_key(p), r))
        elif p["outcome"] in BAD_OUTCOMES and r["outcome"] in PASSING:
            newly_passing.append((i, cell_key(p), r))
        elif cell_key(p) != cell_key(r):
            changed.append((i, cell_key(p), r))
    removed = sorted(set(o) - set(n))
    L = ["regress: %s %s -> %s %s" % (old["sut"]["name"], old["sut"]["version"],
                                      new["sut"]["name"], new["sut"]["version"])]
    for title, items in (("newly failing", newly_failing), ("newly passing", newly_passing),
                         ("lost coverage (passed, now SKIP)", lost),
                         ("no longer judged (failed, now SKIP; not a pass)", unjudged),
                         ("changed outcome", changed)):
        L.append("%s: %d" % (title, len(items)))
        for i, before, r in items:
            L.append("  %-44s %s -> %s: %s" % (i, before, cell_key(r), r["detail"]))
    if removed:
        L.append("no longer run: %d (%s)" % (len(removed), ", ".join(removed[:20])))
    L.append("regress: %s" % ("REGRESSED" if newly_failing else "no regressions"))
    return "\n".join(L) + "\n", len(newly_failing)
