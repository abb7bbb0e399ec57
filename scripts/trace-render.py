#!/usr/bin/env python3
"""trace-render.py — draws a `k8senv --trace` file as one self-contained HTML page (inline SVG).

Usage: scripts/trace-render.py TRACE.json OUT.html [--title TEXT] [--width PIXELS]

Prints the page's size as WIDTH,HEIGHT (what `chromium --window-size` takes) on standard output.

Why this and not Perfetto or chrome://tracing: neither can be driven offline into a screenshot
(Perfetto's UI is a web app loaded from its site; chrome://tracing loads a file only through its
own file dialog, and catapult's trace2html is in no Debian or PyPI package), and the how-to's
picture must be remade by a script (scripts/trace-screenshot.sh) on a machine with Debian's
Chromium and nothing else. This reads the trace-event JSON the way the viewers do (a file without
its closing `]`, left by a killed run, is read too) and draws what they draw for k8senv's files:
one row per track (a "thread" named by a `thread_name` metadata event, in `thread_sort_index`
order), one bar per complete event ("ph": "X") with its name and duration, spans held by
another drawn one level below it, instant events ("ph": "i") as marks, and a time axis in seconds.
Names come from a config (seed set names) and are escaped; nothing in the file is run.
Standard library only.
"""
import html
import json
import sys

ROW_LEVEL = 22       # height of one nesting level of a row
ROW_GAP = 10         # space between rows
LABEL_WIDTH = 190    # the track names' column
AXIS_HEIGHT = 34
HEADER_HEIGHT = 44
MARGIN = 16
CHAR_WIDTH = 6.4     # an estimate for 11px sans-serif, to decide whether a label fits in its bar
PALETTE = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7",
           "#9c755f", "#8cd17d", "#a0cbe8", "#ffbe7d", "#499894", "#d37295", "#86bcb6", "#79706e"]
LEGEND_LINE = 20


class NotATrace(Exception):
    pass


def read_events(path):
    """The events of a trace file; the closing bracket is added when the writer did not write it."""
    with open(path, encoding="utf-8") as f:
        text = f.read().strip()
    if not text.endswith("]"):
        if text.endswith(","):
            text = text[:-1]
        text += "]"
    try:
        events = json.loads(text)
    except json.JSONDecodeError as error:
        raise NotATrace(f"{path}: not trace-event JSON: {error}") from None
    if not isinstance(events, list) or not all(isinstance(e, dict) for e in events):
        raise NotATrace(f"{path}: not a JSON array of trace events")
    return events


def number(value, default=0):
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else default


def tracks_of(events):
    """[(tid, name)] in the order the viewers show them: by sort index, then by thread id."""
    names, order = {}, {}
    for e in events:
        if e.get("ph") != "M" or not isinstance(e.get("args"), dict):
            continue
        tid = e.get("tid")
        if e.get("name") == "thread_name":
            names[tid] = str(e["args"].get("name", tid))
        elif e.get("name") == "thread_sort_index":
            order[tid] = number(e["args"].get("sort_index"), 0)
    for e in events:  # threads with events but no name still get a row
        if e.get("ph") in ("X", "i", "I") and e.get("tid") not in names:
            names[e.get("tid")] = f"thread {e.get('tid')}"
    return sorted(names.items(), key=lambda item: (order.get(item[0], 0), number(item[0], 0)))


def levels(spans):
    """Each span's nesting level on its row: 0, or one more than the span that holds it."""
    placed, stack = [], []
    for span in sorted(spans, key=lambda s: (s["start"], -s["dur"])):
        while stack and stack[-1] <= span["start"]:
            stack.pop()
        placed.append((span, len(stack)))
        stack.append(span["start"] + span["dur"])
    return placed


def kind(name):
    """What a phase is, for its colour and the legend: seed sets are one kind whatever their name."""
    return "seed set ENV/NAME" if name.startswith("seed set ") else name


def light(hex_color):
    """Whether dark text reads better than white on this colour (its relative luminance)."""
    r, g, b = (int(hex_color[i:i + 2], 16) / 255 for i in (1, 3, 5))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b > 0.6


def seconds(micros):
    s = micros / 1e6
    return f"{s:.2f} s" if s >= 0.1 else f"{micros / 1000:.1f} ms"


def tick_step(total):
    """A round step (1, 2 or 5 times a power of ten microseconds) giving at most 12 ticks."""
    power = 1
    while True:
        for factor in (1, 2, 5):
            if total / (factor * power) <= 12:
                return factor * power
        power *= 10


def render(events, title, width=1400):
    """The page (HTML text) and its (width, height)."""
    tracks = tracks_of(events)
    spans = {tid: [] for tid, _ in tracks}
    instants = {tid: [] for tid, _ in tracks}
    end = 0
    for e in events:
        tid = e.get("tid")
        if e.get("ph") == "X" and tid in spans:
            span = {"name": str(e.get("name", "")), "start": number(e.get("ts")), "dur": max(0, number(e.get("dur"))),
                    "args": e.get("args") if isinstance(e.get("args"), dict) else {}}
            spans[tid].append(span)
            end = max(end, span["start"] + span["dur"])
        elif e.get("ph") in ("i", "I") and tid in instants:
            instants[tid].append(e)
            end = max(end, number(e.get("ts")))
    total = max(end, 1)
    plot = width - LABEL_WIDTH - 2 * MARGIN
    # A colour per kind of phase, in the order they first start: the same for the same run.
    kinds = []
    for span in sorted((s for t in spans.values() for s in t), key=lambda s: (s["start"], -s["dur"])):
        if kind(span["name"]) not in kinds:
            kinds.append(kind(span["name"]))

    def color(name):
        return PALETTE[kinds.index(kind(name)) % len(PALETTE)]

    def x(ts):
        return LABEL_WIDTH + MARGIN + plot * ts / total

    esc = html.escape
    body, y = [], HEADER_HEIGHT + AXIS_HEIGHT
    for tid, name in tracks:
        placed = levels(spans[tid])
        depth = 1 + max((level for _, level in placed), default=0)
        height = depth * ROW_LEVEL
        body.append(f'<g class="track" data-track="{esc(name)}">')
        body.append(f'<rect class="row" x="0" y="{y - 4}" width="{width}" height="{height + 8}"/>')
        body.append(f'<text class="track-name" x="{MARGIN}" y="{y + 15}">{esc(name)}</text>')
        for span, level in placed:
            left, w = x(span["start"]), max(1.0, plot * span["dur"] / total)
            top = y + level * ROW_LEVEL
            args = "".join(f"\n{esc(str(k))}: {esc(str(v))}" for k, v in sorted(span["args"].items()))
            body.append(f'<g class="span-group"><title>{esc(span["name"])} — {seconds(span["dur"])}{args}</title>'
                        f'<rect class="span" data-name="{esc(span["name"])}" x="{left:.1f}" y="{top}" width="{w:.1f}" '
                        f'height="{ROW_LEVEL - 3}" fill="{color(span["name"])}"/>')
            label = f'{span["name"]} {seconds(span["dur"])}'
            if len(label) * CHAR_WIDTH + 8 > w:
                label = span["name"]
            if len(label) * CHAR_WIDTH + 8 <= w:
                ink = "#1a1a1a" if light(color(span["name"])) else "#fff"
                body.append(f'<text class="span-label" x="{left + 4:.1f}" y="{top + 14}" fill="{ink}">{esc(label)}</text>')
            body.append("</g>")
        for mark in instants[tid]:
            left = x(number(mark.get("ts")))
            args = mark.get("args") if isinstance(mark.get("args"), dict) else {}
            info = "".join(f"\n{esc(str(k))}: {esc(str(v))}" for k, v in sorted(args.items()))
            body.append(f'<path class="instant" data-name="{esc(str(mark.get("name", "")))}" '
                        f'd="M{left - 5:.1f},{y - 3} L{left + 5:.1f},{y - 3} L{left:.1f},{y + 6} Z">'
                        f'<title>{esc(str(mark.get("name", "")))}{info}</title></path>')
        body.append("</g>")
        y += height + ROW_GAP
    # The legend: what each colour is (a short phase has no room for its name in its bar).
    rows_end = y - ROW_GAP + 4
    legend, left, y = [], LABEL_WIDTH + MARGIN, y + 6
    if kinds:
        legend.append(f'<text class="track-name" x="{MARGIN}" y="{y + 10}">phases</text>')
    for name in kinds:
        item = 18 + len(name) * CHAR_WIDTH + 14
        if left + item > width - MARGIN and left > LABEL_WIDTH + MARGIN:
            left, y = LABEL_WIDTH + MARGIN, y + LEGEND_LINE
        legend.append(f'<g class="legend-item"><rect x="{left:.1f}" y="{y}" width="12" height="12" fill="{color(name)}"/>'
                      f'<text class="legend" x="{left + 18:.1f}" y="{y + 10}">{esc(name)}</text></g>')
        left += item
    if kinds:
        y += LEGEND_LINE
    height = y + MARGIN

    axis = [f'<line class="axis" x1="{x(0):.1f}" y1="{HEADER_HEIGHT + AXIS_HEIGHT - 8}" x2="{x(total):.1f}" '
            f'y2="{HEADER_HEIGHT + AXIS_HEIGHT - 8}"/>']
    step, tick = tick_step(total), 0
    while tick <= total:
        axis.append(f'<line class="grid" x1="{x(tick):.1f}" y1="{HEADER_HEIGHT + AXIS_HEIGHT - 12}" x2="{x(tick):.1f}" y2="{rows_end}"/>')
        axis.append(f'<text class="tick" x="{x(tick):.1f}" y="{HEADER_HEIGHT + AXIS_HEIGHT - 16}">{seconds(tick) if tick else "0"}</text>')
        tick += step
    heading = (f'<text class="title" x="{MARGIN}" y="26">{esc(title)}</text>'
               f'<text class="subtitle" x="{width - MARGIN}" y="26">{len(tracks)} tracks, '
               f'{sum(len(s) for s in spans.values())} phases, {seconds(total)}</text>')
    page = f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{esc(title)}</title>
<style>
  html, body {{ margin: 0; background: #fff; }}
  svg {{ display: block; font-family: "DejaVu Sans", "Liberation Sans", sans-serif; }}
  .row {{ fill: #f6f7f9; }}
  .track:nth-of-type(even) .row {{ fill: #eceef2; }}
  .track-name {{ font-size: 12px; fill: #222; }}
  .span {{ stroke: #fff; stroke-width: 0.5; }}
  .span-label {{ font-size: 11px; pointer-events: none; }}
  .instant {{ fill: #222; }}
  .axis {{ stroke: #444; }}
  .grid {{ stroke: #000; stroke-opacity: 0.12; }}
  .tick {{ font-size: 11px; fill: #444; text-anchor: middle; }}
  .title {{ font-size: 16px; font-weight: bold; fill: #222; }}
  .subtitle {{ font-size: 12px; fill: #555; text-anchor: end; }}
  .legend {{ font-size: 11px; fill: #333; }}
</style></head>
<body><svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}">
{heading}
{chr(10).join(axis)}
{chr(10).join(body)}
{chr(10).join(legend)}
</svg></body></html>
"""
    return page, (width, height)


def main(argv):
    args, title, width = [], None, 1400
    it = iter(argv)
    for arg in it:
        if arg == "--title":
            title = next(it, None)
        elif arg == "--width":
            value = next(it, "")
            if not value.isdigit() or not 400 <= int(value) <= 8000:
                print("trace-render: --width takes a number of pixels from 400 to 8000", file=sys.stderr)
                return 2
            width = int(value)
        else:
            args.append(arg)
    if len(args) != 2 or title == "":
        print("usage: trace-render.py TRACE.json OUT.html [--title TEXT] [--width PIXELS]", file=sys.stderr)
        return 2
    source, target = args
    try:
        page, (w, h) = render(read_events(source), title or source, width)
    except (OSError, NotATrace) as error:
        print(f"trace-render: {error}", file=sys.stderr)
        return 1
    with open(target, "w", encoding="utf-8") as f:
        f.write(page)
    print(f"{w},{h}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
