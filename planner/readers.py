"""Read YAML and CSV input files, keeping where each value came from.

Every reader returns the parsed data together with a :class:`Positions` map from a
value's location (``("sites", 2, "lat")``) to its line, so that problems found
later -- by pydantic or by cross-file checks -- name the line a person must edit.
Problems are collected, never raised one at a time.

Reading is guarded: only regular files are opened (never a FIFO, a device or a
directory, and a symbolic-link loop is reported), no file larger than
:data:`~planner.schema.MAX_FILE_BYTES` is read, and a YAML or JSON file's nesting and
a YAML file's alias expansion are measured by a streaming pass before the file is
built into objects (see :data:`~planner.schema.LIMITS`).
"""

from __future__ import annotations

import csv
import errno
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import yaml
from pydantic import BaseModel, ValidationError

from planner.errors import Problem
from planner.schema import MAX_FILE_BYTES, MAX_NESTING, MAX_PROBLEMS, MAX_ROWS, MAX_YAML_VALUES

__all__ = ["Positions", "capped", "json_too_deep", "not_utf8", "read_csv_rows", "read_text", "read_yaml_model"]

M = TypeVar("M", bound=BaseModel)
Loc = tuple[str | int, ...]

_FIXES = {
    "missing": "add the field",
    "extra_forbidden": "remove it, or check its spelling against `planner schema {kind}`",
    "literal_error": "use one of the allowed values",
    "int_parsing": "give a whole number",
    "int_from_float": "give a whole number",
    "float_parsing": "give a number",
    "bool_parsing": "give true or false",
    "greater_than": "give a positive value",
    "greater_than_equal": "give a larger value",
    "less_than_equal": "give a smaller value",
    "finite_number": "give a finite number (not .nan, .inf or nan)",
    "control_character": "remove it: names and notes are one line of printable text",
    "upside_probability_missing": "give the upside's chance (e.g. 0.3), or clear may_start_early_weeks and "
    "may_grow_gpus",
    "upside_site_wide": "name the pod or hall the work may take, or clear the upside columns",
    "upside_probability_alone": "clear upside_probability, or give may_start_early_weeks or may_grow_gpus",
    "avg_above_peak": "give an average of at most the peak, or leave avg_tokens_per_s empty (the peak)",
    "string_too_long": "shorten it",
    "string_pattern_mismatch": "use letters, digits, '_', '.' or '-' (no spaces)",
    "string_too_short": "give a non-empty value",
    "list_type": "give a list",
    "dict_type": "give a mapping (key: value)",
    "model_type": "give a mapping (key: value)",
    "tuple_type": "give a [lon, lat] pair",
    "too_long": "give a [lon, lat] pair",
    "too_short": "give a [lon, lat] pair",
}


_BOUNDS = {"le": "at most", "lt": "below", "ge": "at least", "gt": "above"}
"""The words for a bound a number broke, in the fix (``give a smaller value (at most 100000)``)."""


def _number(x: float) -> str:
    """A bound as a person writes it.

    Examples
    --------
    >>> _number(10_000_000), _number(100000.0), _number(0.5)
    ('10,000,000', '100,000', '0.5')
    """
    return f"{int(x):,}" if float(x).is_integer() else f"{x:g}"


@dataclass
class Positions:
    """Where each value of a file sits: location tuple -> 1-based line."""

    file: str
    lines: dict[Loc, int] = field(default_factory=dict)

    def line(self, loc: Loc) -> int | None:
        """The line of ``loc``, or of its nearest enclosing value."""
        for n in range(len(loc), -1, -1):
            if loc[:n] in self.lines:
                return self.lines[loc[:n]]
        return None

    def where(self, loc: Loc) -> str:
        """``"line N"`` for ``loc``, or ``""`` when unknown."""
        n = self.line(loc)
        return f"line {n}" if n is not None else ""


def not_utf8(display: str, exc: UnicodeDecodeError) -> Problem:
    """The problem reported for a file that is not UTF-8 text."""
    return Problem(display, f"byte {exc.start + 1}", "", "", "the file is not UTF-8 text",
                   "save it as UTF-8 plain text (not a spreadsheet or other binary format)")


_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


def _unreadable(display: str, exc: OSError | UnicodeDecodeError) -> Problem:
    """The problem reported for a file that cannot be read as text."""
    if isinstance(exc, UnicodeDecodeError):
        return not_utf8(display, exc)
    if exc.errno == errno.ELOOP:
        return Problem(display, "", "", "", "the path is a loop of symbolic links",
                       "point the scenario at the real file, or repair the links")
    return Problem(display, "", "", "", f"cannot read file ({exc.strerror})", "check the path in the scenario file")


def read_text(path: Path, display: str, *, encoding: str = "utf-8") -> tuple[str | None, list[Problem]]:
    """A regular file's text, read only when it is a regular file of at most ``MAX_FILE_BYTES``.

    The file is opened without blocking (a FIFO never hangs the read), then checked
    on the open descriptor, so the check and the read see the same file.

    Returns
    -------
    (text or None, problems)
    """
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        return None, [_unreadable(display, exc)]
    except ValueError:  # a NUL byte in the path
        return None, [Problem(display, "", "", "", "the path holds a NUL byte", "check the path in the scenario file")]
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        kind = next((what for test, what in _KINDS if test(mode)), "not a file")
        return None, [Problem(display, "", "", "", f"the path is {kind}, not a regular file",
                              "give the path of a regular file (the planner reads nothing else)")]
    with os.fdopen(fd, "rb") as f:
        data = f.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        return None, [Problem(display, "", "", "", f"the file is larger than {MAX_FILE_BYTES // 2**20} MiB",
                              "check the path; split a lease book this large into several files (files.leases)")]
    try:
        return data.decode(encoding), []
    except UnicodeDecodeError as exc:
        return None, [not_utf8(display, exc)]


_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""Safe loading, with libyaml's parser where PyYAML has it (some 20 times faster on large files)."""

_TOO_DEEP_FIX = "check the file: the planner's files nest a few levels"

_JSON_STRING = re.compile(r'"(?:[^"\\\n]|\\.)*"')


def json_too_deep(text: str, display: str) -> Problem | None:
    """A problem when JSON text nests deeper than ``MAX_NESTING``, found without parsing it.

    Strings are blanked first (a JSON string holds no raw newline, so lines keep
    their numbers), then the brackets are counted.

    Examples
    --------
    >>> json_too_deep('{"a": [[1]], "b": "[[[["}', "x.json") is None
    True
    >>> json_too_deep("[" * 100 + "]" * 100, "x.json").where
    'line 1'
    """
    bare = _JSON_STRING.sub('""', text)
    raw = np.frombuffer(bare.encode("utf-8", "surrogatepass"), dtype=np.uint8)
    step = np.isin(raw, (ord("["), ord("{"))).astype(np.int32) - np.isin(raw, (ord("]"), ord("}")))
    depth = np.cumsum(step)
    if not depth.size or depth.max() <= MAX_NESTING:
        return None
    at = int(np.argmax(depth > MAX_NESTING))
    line = bare.encode("utf-8", "surrogatepass")[:at].count(b"\n") + 1
    return Problem(display, f"line {line}", "", "", f"nested more than {MAX_NESTING} levels deep",
                   "check the file: a GeoJSON route nests 4 levels (collection, feature, geometry, points)")


def _yaml_limits(text: str, display: str) -> Problem | None:
    """A problem when YAML nests deeper than ``MAX_NESTING``, or expands to more than ``MAX_YAML_VALUES``
    values or ``MAX_FILE_BYTES`` characters of text.

    One streaming pass over the parser's events, before anything is built: each
    collection's size (aliases expanded, by the size of what they point to) is summed
    on a stack, so an alias bomb is measured, never expanded -- also one that repeats
    a long text rather than many values.
    """
    def where(ev: yaml.Event) -> str:
        return f"line {ev.start_mark.line + 1}" if ev.start_mark is not None else ""

    sizes: dict[str, tuple[int, int]] = {}  # anchor -> (values, characters)
    stack: list[tuple[int, int, str | None]] = [(0, 0, None)]  # (values, characters, anchor) per open collection
    for ev in yaml.parse(text, Loader=_LOADER):
        if isinstance(ev, yaml.CollectionStartEvent):
            stack.append((0, 0, ev.anchor))
            if len(stack) - 1 > MAX_NESTING:
                return Problem(display, where(ev), "", "", f"nested more than {MAX_NESTING} levels deep",
                               _TOO_DEEP_FIX)
            continue
        if isinstance(ev, yaml.CollectionEndEvent):
            n, chars, anchor = stack.pop()
            n += 1
            if anchor is not None:
                sizes[anchor] = (n, chars)
        elif isinstance(ev, yaml.ScalarEvent):
            n, chars = 1, len(ev.value)
            if ev.anchor is not None:
                sizes[ev.anchor] = (n, chars)
        elif isinstance(ev, yaml.AliasEvent):
            n, chars = sizes.get(ev.anchor or "", (1, 0))  # an alias to an open collection (a loop) counts once
        else:
            continue
        total, total_chars, anchor = stack[-1]
        stack[-1] = (total + n, total_chars + chars, anchor)
        if total + n > MAX_YAML_VALUES or total_chars + chars > MAX_FILE_BYTES:
            what = (f"{MAX_YAML_VALUES:,} values" if total + n > MAX_YAML_VALUES
                    else f"{MAX_FILE_BYTES // 2**20} MiB of text")
            return Problem(display, where(ev), "", "", f"the file holds more than {what} (aliases expanded)",
                           "check the file; split it, or use fewer nested aliases (&anchor / *alias)")
    return None


def _printable(text: str) -> str:
    r"""``text`` with control characters escaped (``\x00``), so that a problem table never carries them.

    Examples
    --------
    >>> _printable("na\x00me")
    'na\\x00me'
    """
    return text if text.isprintable() else text.encode("unicode_escape").decode("ascii")


def _header_problems(display: str, header: list[str], fields: list[str], required: list[str]) -> list[Problem]:
    """Columns named twice, unknown columns and missing required columns of a CSV header."""
    header = [_printable(h) for h in header]
    seen: set[str] = set()
    twice: list[str] = []
    for h in header:
        if h in seen:
            twice.append(h)
        seen.add(h)
    out = [Problem(display, "line 1", h, "", "the column appears twice in the header", "remove or rename one of them")
           for h in twice]
    out += [Problem(display, "line 1", h, "", "unknown column",
                    f"remove it or rename it to one of: {', '.join(fields)}") for h in header if h not in fields]
    out += [Problem(display, "line 1", h, "", "required column is missing", "add the column to the header")
            for h in required if h not in header]
    return out


def _walk(node: yaml.Node, loc: Loc, out: dict[Loc, int], dupes: list[tuple[Loc, int, int]],
          seen: frozenset[int] = frozenset()) -> None:
    """Record the line of every value; collect keys given twice in one mapping as (loc, first, again)."""
    out[loc] = node.start_mark.line + 1
    if id(node) in seen:  # a recursive alias (``a: &x [*x]``): its lines are known already
        return
    seen = seen | {id(node)}
    if isinstance(node, yaml.MappingNode):
        first: dict[str, int] = {}
        for k, v in node.value:
            key = k.value if isinstance(k, yaml.ScalarNode) else str(k.start_mark.line)
            if key in first:
                dupes.append(((*loc, key), first[key], k.start_mark.line + 1))
            first.setdefault(key, k.start_mark.line + 1)
            out[(*loc, key)] = k.start_mark.line + 1
            _walk(v, (*loc, key), out, dupes, seen)
            out[(*loc, key)] = k.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, v in enumerate(node.value):
            _walk(v, (*loc, i), out, dupes, seen)


def _fmt_loc(loc: Loc) -> str:
    parts: list[str] = []
    for p in loc:
        if isinstance(p, int):
            parts.append(f"[{p}]")
        else:
            parts.append(("." if parts else "") + _printable(str(p)))
    return "".join(parts)


def _value_text(v: object) -> str:
    if isinstance(v, dict):
        return ""
    text = repr(v) if isinstance(v, str) else str(v)
    return text if len(text) <= 60 else text[:57] + "..."


def _pydantic_problems(
    err: ValidationError, pos: Positions, kind: str, *, base: Loc = (), where: str = ""
) -> list[Problem]:
    problems = []
    for e in err.errors(include_url=False)[:MAX_PROBLEMS]:
        loc: Loc = tuple(x for x in e["loc"] if isinstance(x, str | int))
        # Drop pydantic's union/branch tags (e.g. 'float', 'none') from the location.
        loc = tuple(x for x in loc if not (isinstance(x, str) and x in {"float", "int", "none"}))
        field_name = _fmt_loc(loc)
        place = where or pos.where((*base, *loc))
        fix = _FIXES.get(e["type"], f"see `planner schema {kind}`").format(kind=kind)
        if e["type"] in {"too_short", "too_long"} and loc and isinstance(loc[-1], str):  # a named list, no point
            short = e["type"] == "too_short"
            n = e.get("ctx", {}).get("min_length" if short else "max_length", 1)
            fix = f"give {'at least' if short else 'at most'} {n:,} entr{'y' if n == 1 else 'ies'}"
        bound = next((f"{word} {_number(e['ctx'][k])}" for k, word in _BOUNDS.items() if k in e.get("ctx", {})), "")
        fix += f" ({bound})" if bound else ""
        value = "" if e["type"] == "missing" else _value_text(e.get("input"))
        problems.append(Problem(pos.file, place, field_name, value, e["msg"], fix))
    if err.error_count() > MAX_PROBLEMS:
        problems.append(_more(pos.file, err.error_count() - MAX_PROBLEMS))
    return problems


@dataclass(frozen=True)
class _More(Problem):
    """The line standing for ``hidden`` problems of a file that are not listed."""

    hidden: int = 0


def _more(display: str, n: int) -> Problem:
    """The line that stands for ``n`` problems of a file not listed (past ``MAX_PROBLEMS``)."""
    return _More(display, "", "", "", f"{n:,} more problems in this file are not listed (at most "
                 f"{MAX_PROBLEMS:,} are)", "fix those listed first: the rest are often the same mistake", hidden=n)


def capped(problems: list[Problem]) -> list[Problem]:
    """At most ``MAX_PROBLEMS`` problems of each file, then one line saying how many more there are.

    Examples
    --------
    >>> many = [Problem("a.csv", f"line {n}", "", "", "bad", "fix") for n in range(MAX_PROBLEMS + 5)]
    >>> out = capped(many)
    >>> len(out), out[-1].message.startswith("5 more problems")
    (1001, True)
    >>> capped(out)[-1].message.startswith("5 more problems")
    True
    """
    seen: dict[str, int] = {}
    hidden: dict[str, int] = {}
    out: list[Problem] = []
    for p in problems:
        if isinstance(p, _More):
            hidden[p.file] = hidden.get(p.file, 0) + p.hidden
            continue
        seen[p.file] = seen.get(p.file, 0) + 1
        if seen[p.file] <= MAX_PROBLEMS:
            out.append(p)
        else:
            hidden[p.file] = hidden.get(p.file, 0) + 1
    return out + [_more(file, n) for file, n in hidden.items()]


def read_yaml_model(path: Path, model: type[M], kind: str, display: str) -> tuple[M | None, Positions, list[Problem]]:
    """Read a YAML file safely and validate it against ``model``.

    Parameters
    ----------
    path
        The file.
    model
        The pydantic model of the whole file.
    kind
        The file kind, as ``planner schema`` names it (used in fixes).
    display
        How to name the file in problems.

    Returns
    -------
    (model or None, positions, problems)
    """
    pos = Positions(display)
    text, problems = read_text(path, display)
    if text is None:
        return None, pos, problems
    try:
        limit = _yaml_limits(text, display)
        if limit is not None:
            return None, pos, [limit]
        loader = _LOADER(text)
        try:
            node = loader.get_single_node()
            data = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        what = exc.problem or "malformed YAML"
        fix = "fix the YAML syntax (indentation, ':' after keys, quotes)"
        if "tag" in what or "constructor" in type(exc).__name__.lower():
            fix = "remove the tag: only plain YAML values are read (safe loading)"
        if "nesting depth" in what:  # libyaml stops at its own depth while reading ahead
            return None, pos, [Problem(display, where, "", "", f"nested more than {MAX_NESTING} levels deep",
                                       _TOO_DEEP_FIX)]
        return None, pos, [Problem(display, where, "", "", f"malformed YAML: {what}", fix)]
    except yaml.YAMLError as exc:
        return None, pos, [Problem(display, "", "", "", f"malformed YAML: {exc}", "fix the YAML syntax")]
    dupes: list[tuple[Loc, int, int]] = []
    if node is not None:
        _walk(node, (), pos.lines, dupes)
    if dupes:  # YAML keeps the last of two equal keys silently; a person meant one of them
        return None, pos, [Problem(display, f"line {again}", _fmt_loc(loc), "",
                                   f"key given twice in one mapping (first on line {first})",
                                   "keep one of the two") for loc, first, again in dupes]
    if not isinstance(data, dict):
        return None, pos, [Problem(display, "line 1", "", "", "the file is not a YAML mapping",
                                   f"start from the example shown by `planner schema {kind}`")]
    if data and not set(map(str, data)) & set(model.model_fields):  # another kind of file: say so, echo nothing
        return None, pos, [Problem(display, "line 1", "", "",
                                   f"not a {kind} file: none of its {len(data)} top-level keys is a {kind} key",
                                   f"check the path; a {kind} file has the keys {', '.join(model.model_fields)}")]
    try:
        return model.model_validate(data), pos, []
    except ValidationError as err:
        return None, pos, _pydantic_problems(err, pos, kind)


_TRUE = {"true", "yes", "y", "1"}
_FALSE = {"false", "no", "n", "0"}


def read_csv_rows(
    path: Path, model: type[M], kind: str, display: str
) -> tuple[list[tuple[int, M]], list[Problem]]:
    """Read a CSV file, one ``model`` per row, with each row's line number.

    Empty cells count as missing (the field's default applies). Rows that fail
    validation are reported and left out; the others are returned.
    """
    text, problems = read_text(path, display, encoding="utf-8-sig")
    if text is None:
        return [], problems
    rows: list[tuple[int, M]] = []
    fields = model.model_fields
    required = [n for n, f in fields.items() if f.is_required()]
    reader = csv.reader(text.splitlines(keepends=True), strict=True)
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        return [], [Problem(display, "line 1", "", "", "the file is empty",
                            f"add a header row: {','.join(fields)}")]
    except csv.Error as exc:
        return [], [Problem(display, "line 1", "", "", f"malformed CSV: {exc}", "fix the quoting")]
    if header and not set(header) & set(fields):  # another kind of file: say so, echo nothing of it
        return [], [Problem(display, "line 1", "", "",
                            f"not a {kind} CSV: none of the {len(header)} cells of its first line names a column",
                            f"check the path; the first line of a {kind} CSV is a header: {','.join(fields)}")]
    problems += _header_problems(display, header, list(fields), required)
    if problems:
        return [], problems
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            problems.append(Problem(display, f"line {reader.line_num}", "", "", f"malformed CSV: {exc}",
                                    "fix the quoting"))
            break
        line = reader.line_num
        if len(problems) >= MAX_PROBLEMS - 1:  # this line is the last listed
            problems.append(Problem(display, f"line {line}", "", "", f"the rows from here on are not read: "
                                    f"{MAX_PROBLEMS:,} problems are listed already", "fix those listed first"))
            break
        if len(rows) + len(problems) >= MAX_ROWS:
            problems.append(Problem(display, f"line {line}", "", "", f"more than {MAX_ROWS:,} rows",
                                    "split the file into several (files.leases and files.api_demand take lists)"))
            break
        if not any(c.strip() for c in cells):
            continue
        if len(cells) != len(header):
            problems.append(Problem(display, f"line {line}", "", f"{len(cells)} cells",
                                    f"the row has {len(cells)} cells but the header has {len(header)}",
                                    "add or remove commas so every row matches the header"))
            continue
        record: dict[str, Any] = {}
        for h, raw in zip(header, cells, strict=True):
            c = raw.strip()
            if c == "":
                continue
            ann = str(fields[h].annotation)
            if ann == "<class 'bool'>" and c.lower() in _TRUE | _FALSE:
                record[h] = c.lower() in _TRUE
            else:
                record[h] = c
        ident = record.get("id")
        where = f"line {line}" + (f" (id {ident})" if ident else "")
        try:
            rows.append((line, model.model_validate(record)))
        except ValidationError as err:
            problems.extend(_pydantic_problems(err, Positions(display), kind, where=where))
    return rows, problems
