"""Read YAML and CSV input files, keeping where each value came from.

Every reader returns the parsed data together with a :class:`Positions` map from a
value's location (``("sites", 2, "lat")``) to its line, so that problems found
later -- by pydantic or by cross-file checks -- name the line a person must edit.
Problems are collected, never raised one at a time.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from planner.errors import Problem

__all__ = ["Positions", "not_utf8", "read_csv_rows", "read_yaml_model"]

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
    "string_pattern_mismatch": "use letters, digits, '_', '.' or '-' (no spaces)",
    "string_too_short": "give a non-empty value",
    "list_type": "give a list",
    "dict_type": "give a mapping (key: value)",
    "model_type": "give a mapping (key: value)",
    "tuple_type": "give a [lon, lat] pair",
    "too_long": "give a [lon, lat] pair",
    "too_short": "give a [lon, lat] pair",
}


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


def _unreadable(display: str, exc: OSError | UnicodeDecodeError) -> Problem:
    """The problem reported for a file that cannot be read as text."""
    if isinstance(exc, UnicodeDecodeError):
        return not_utf8(display, exc)
    return Problem(display, "", "", "", f"cannot read file ({exc.strerror})", "check the path in the scenario file")


def _header_problems(display: str, header: list[str], fields: list[str], required: list[str]) -> list[Problem]:
    """Columns named twice, unknown columns and missing required columns of a CSV header."""
    out = [Problem(display, "line 1", h, "", "the column appears twice in the header", "remove or rename one of them")
           for i, h in enumerate(header) if h in header[:i]]
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
            parts.append(("." if parts else "") + str(p))
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
    for e in err.errors():
        loc: Loc = tuple(x for x in e["loc"] if isinstance(x, str | int))
        # Drop pydantic's union/branch tags (e.g. 'float', 'none') from the location.
        loc = tuple(x for x in loc if not (isinstance(x, str) and x in {"float", "int", "none"}))
        field_name = _fmt_loc(loc)
        place = where or pos.where((*base, *loc))
        fix = _FIXES.get(e["type"], f"see `planner schema {kind}`").format(kind=kind)
        value = "" if e["type"] == "missing" else _value_text(e.get("input"))
        problems.append(Problem(pos.file, place, field_name, value, e["msg"], fix))
    return problems


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
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return None, pos, [_unreadable(display, exc)]
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.load(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        what = exc.problem or "malformed YAML"
        fix = "fix the YAML syntax (indentation, ':' after keys, quotes)"
        if "tag" in what or "constructor" in type(exc).__name__.lower():
            fix = "remove the tag: only plain YAML values are read (safe loading)"
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
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        return [], [_unreadable(display, exc)]
    problems: list[Problem] = []
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
