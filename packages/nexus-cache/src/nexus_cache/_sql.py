"""Classify SQL statements: which tables (and which rows) a statement reads or writes.

Every statement Django sends goes through ``connection.execute_wrapper``; this module turns
its text into the generation tokens it touches. The parser is deliberately small and
*conservative*: anything it does not understand as a read is a write, and a write whose
target it cannot name replaces the whole database's epoch token. Parsing is cached per SQL
text (the ORM repeats the same shapes with different parameters), so the steady-state cost
is a dict lookup.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<comment>--[^\n]*|/\*.*?\*/)
  | (?P<str>[eE]'(?:[^'\\]|\\.|'')*'|'(?:[^']|'')*')
  | (?P<dollar>\$(?P<tag>[A-Za-z_]*)\$.*?\$(?P=tag)\$)
  | (?P<qident>"(?:[^"]|"")*"|`(?:[^`]|``)*`)
  | (?P<ph>%s|%\([^)]*\)s)
  | (?P<num>\d+(?:\.\d+)?)
  | (?P<word>[A-Za-z_][A-Za-z0-9_$]*)
  | (?P<op>.)
    """,
    re.S | re.X,
)

#: Statements that change no table data (transaction control, session settings).
_NEUTRAL = frozenset(
    {
        "BEGIN",
        "START",
        "COMMIT",
        "END",
        "ROLLBACK",
        "SAVEPOINT",
        "RELEASE",
        "SET",
        "RESET",
        "SHOW",
        "LISTEN",
        "UNLISTEN",
        "NOTIFY",
        "DEALLOCATE",
        "DISCARD",
        "FETCH",
        "CLOSE",
        "DECLARE",
        "MOVE",
        "ANALYZE",
        "VACUUM",
        "CHECKPOINT",
        "LOCK",
        "PRAGMA",
        "EXPLAIN",
        "DESCRIBE",
        "DESC",
    }
)
_READ_START = frozenset({"SELECT", "VALUES", "TABLE"})
_CLAUSE_END = frozenset(
    {"ORDER", "LIMIT", "OFFSET", "FOR", "RETURNING", "GROUP", "HAVING", "WINDOW", "FETCH"}
)


class Kind(enum.Enum):
    NEUTRAL = "neutral"
    READ = "read"
    WRITE = "write"


@dataclasses.dataclass(frozen=True)
class Tok:
    kind: str  # "word" (upper-cased keyword or bare identifier), "ident" (quoted), "ph", "num", "op", "str"
    text: str
    upper: str


@dataclasses.dataclass(frozen=True)
class RowRef:
    """Row keys of one table, as positions in the parameter list or literal values."""

    table: str
    param_indexes: tuple[int, ...]
    literals: tuple[str, ...]

    def keys(self, params: Any, many: bool) -> frozenset[str] | None:
        """The row keys, or None when the parameters do not let us name them."""
        if not self.param_indexes:
            return frozenset(self.literals)
        if params is None or isinstance(params, Mapping):
            return None
        sets: Iterable[Any] = params if many else (params,)
        out: set[str] = set(self.literals)
        try:
            for one in sets:
                seq = list(one)
                for i in self.param_indexes:
                    out.add(row_key(seq[i]))
        except (IndexError, TypeError):
            return None
        return frozenset(out)


@dataclasses.dataclass(frozen=True)
class Write:
    """One table written by a statement."""

    table: str
    rows: RowRef | None = None  # known rows (UPDATE/DELETE ... WHERE pk = / IN)
    inserts: bool = False  # may create rows (INSERT, upsert, MERGE)
    bulk: bool = False  # may change rows we cannot name


@dataclasses.dataclass(frozen=True)
class Statement:
    kind: Kind
    #: Tables read (for READ statements).
    tables: frozenset[str] = frozenset()
    #: A read whose main table is restricted to primary-key values.
    row_read: RowRef | None = None
    #: Tables read that we could not name (a view, a function): depend on every write.
    opaque: bool = False
    writes: tuple[Write, ...] = ()
    #: A write we could not attribute to tables: everything on the database is invalid.
    unknown_write: bool = False


def row_key(value: Any) -> str:
    """Canonical text of a primary-key value, equal on the read and the write side."""
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    return str(value)


def tokenize(sql: str) -> list[Tok]:
    out: list[Tok] = []
    for m in _TOKEN.finditer(sql):
        kind = m.lastgroup
        if kind in ("ws", "comment") or kind is None:
            continue
        text = m.group()
        if kind == "tag":  # pragma: no cover - the named group inside "dollar"
            continue
        if kind == "qident":
            name = text[1:-1].replace(text[0] * 2, text[0])
            out.append(Tok("ident", name, name))
        elif kind == "word":
            out.append(Tok("word", text.lower(), text.upper()))
        elif kind == "dollar":
            out.append(Tok("str", "", ""))
        else:
            out.append(Tok(kind, text, text))
    return out


def _is_name(tok: Tok) -> bool:
    return tok.kind in ("ident", "word")


def _qualified_name(toks: Sequence[Tok], i: int) -> tuple[str | None, int]:
    """Read ``a``, ``"a"`` or ``"schema"."a"`` at i; return the last part and the next index."""
    if i >= len(toks) or not _is_name(toks[i]):
        return None, i
    name = toks[i].text
    i += 1
    while i + 1 < len(toks) and toks[i].text == "." and _is_name(toks[i + 1]):
        name = toks[i + 1].text
        i += 2
    return name, i


def _count_ph(toks: Sequence[Tok], end: int) -> int:
    return sum(1 for t in toks[:end] if t.kind == "ph")


def _pk_condition(
    toks: Sequence[Tok], start: int, table: str, aliases: set[str], pk_columns: Mapping[str, str]
) -> RowRef | None:
    """Match ``WHERE <pk> = x`` or ``WHERE <pk> IN (x, y)`` as the *whole* condition."""
    pk = pk_columns.get(table)
    if pk is None:
        return None
    i = start
    # Optional qualifier: table. / alias.
    if i + 2 < len(toks) and _is_name(toks[i]) and toks[i + 1].text == "." and _is_name(toks[i + 2]):
        if toks[i].text not in aliases:
            return None
        i += 2
    if i >= len(toks) or not _is_name(toks[i]) or toks[i].text != pk:
        return None
    i += 1
    values: list[int] = []
    if i < len(toks) and toks[i].text == "=":
        i += 1
        if i >= len(toks) or toks[i].kind not in ("ph", "num", "str"):
            return None
        values.append(i)
        i += 1
    elif i < len(toks) and toks[i].upper == "IN":
        i += 1
        if i >= len(toks) or toks[i].text != "(":
            return None
        i += 1
        while i < len(toks):
            if toks[i].kind not in ("ph", "num", "str"):
                return None
            values.append(i)
            i += 1
            if i < len(toks) and toks[i].text == ",":
                i += 1
                continue
            break
        if i >= len(toks) or toks[i].text != ")":
            return None
        i += 1
    else:
        return None
    # Nothing but trailing clauses may follow.
    if (
        i < len(toks)
        and not (toks[i].kind == "word" and toks[i].upper in _CLAUSE_END)
        and toks[i].text != ";"
    ):
        return None
    indexes: list[int] = []
    literals: list[str] = []
    for pos in values:
        v = toks[pos]
        if v.kind == "ph":
            if v.text != "%s":
                return None
            indexes.append(_count_ph(toks, pos))
        elif v.kind == "num":
            literals.append(v.text)
        else:
            literals.append(v.text[1:-1].replace("''", "'"))
    return RowRef(table, tuple(indexes), tuple(literals))


def _alias_after(toks: Sequence[Tok], i: int) -> tuple[str | None, int]:
    if i < len(toks) and toks[i].upper == "AS":
        i += 1
    if i < len(toks) and _is_name(toks[i]) and toks[i].upper not in ("SET", "WHERE", "USING", "RETURNING"):
        return toks[i].text, i + 1
    return None, i


def _find_top(toks: Sequence[Tok], start: int, word: str) -> int:
    """Index of ``word`` at parenthesis depth 0 from ``start``, or -1."""
    depth = 0
    for i in range(start, len(toks)):
        t = toks[i]
        if t.text == "(":
            depth += 1
        elif t.text == ")":
            depth -= 1
        elif depth == 0 and t.kind == "word" and t.upper == word:
            return i
    return -1


def _parse_update_delete(
    toks: Sequence[Tok], i: int, is_delete: bool, pk_columns: Mapping[str, str]
) -> Write | None:
    if is_delete and i < len(toks) and toks[i].upper == "FROM":
        i += 1
    if i < len(toks) and toks[i].upper == "ONLY":
        i += 1
    table, i = _qualified_name(toks, i)
    if table is None:
        return None
    alias, _ = _alias_after(toks, i)
    where = _find_top(toks, i, "WHERE")
    if where < 0:
        return Write(table, bulk=True)
    aliases = {table} | ({alias} if alias else set())
    rows = _pk_condition(toks, where + 1, table, aliases, pk_columns)
    if rows is None:
        return Write(table, bulk=True)
    # An UPDATE that assigns the primary key moves the row to a key a cached "not found"
    # may be waiting for: that is an insert as far as readers are concerned.
    pk = pk_columns.get(table)
    moves_pk = not is_delete and any(
        _is_name(toks[j]) and toks[j].text == pk and toks[j + 1].text == "=" for j in range(i, where)
    )
    return Write(table, rows=rows, inserts=moves_pk)


def _parse_insert(toks: Sequence[Tok], i: int, replace: bool) -> Write | None:
    # INSERT [OR REPLACE|OR IGNORE|IGNORE] INTO t ...
    upsert = replace
    while i < len(toks) and toks[i].upper in ("OR", "REPLACE", "IGNORE", "ROLLBACK", "ABORT", "FAIL"):
        if toks[i].upper == "REPLACE":
            upsert = True
        i += 1
    if i < len(toks) and toks[i].upper == "INTO":
        i += 1
    table, _ = _qualified_name(toks, i)
    if table is None:
        return None
    uppers = [t.upper for t in toks if t.kind == "word"]
    # ON CONFLICT ... DO UPDATE / ON DUPLICATE KEY UPDATE change existing rows.
    if "CONFLICT" in uppers and "UPDATE" in uppers[uppers.index("CONFLICT") :]:
        upsert = True
    if "DUPLICATE" in uppers:
        upsert = True
    return Write(table, inserts=True, bulk=upsert)


def _writes_anywhere(toks: Sequence[Tok]) -> tuple[list[Write], bool]:
    """Data-modifying parts of a WITH statement (or an EXPLAIN ANALYZE): table-level."""
    writes: list[Write] = []
    unknown = False
    for i, t in enumerate(toks):
        if t.kind != "word":
            continue
        target: str | None = None
        if t.upper == "INSERT" and i + 1 < len(toks) and toks[i + 1].upper == "INTO":
            target, _ = _qualified_name(toks, i + 2)
            if target is not None:
                writes.append(Write(target, inserts=True, bulk=True))
            else:
                unknown = True
        elif t.upper == "UPDATE" and not (i > 0 and toks[i - 1].upper in ("FOR", "DO", "KEY", "NO")):
            j = i + 1
            if j < len(toks) and toks[j].upper == "ONLY":
                j += 1
            target, _ = _qualified_name(toks, j)
            if target is not None and target.upper() != "SET":
                writes.append(Write(target, bulk=True))
            else:
                unknown = True
        elif t.upper == "DELETE" and i + 1 < len(toks) and toks[i + 1].upper == "FROM":
            j = i + 2
            if j < len(toks) and toks[j].upper == "ONLY":
                j += 1
            target, _ = _qualified_name(toks, j)
            if target is not None:
                writes.append(Write(target, bulk=True))
            else:
                unknown = True
        elif t.upper in ("MERGE", "TRUNCATE"):
            unknown = True
    return writes, unknown


def _read_tables(toks: Sequence[Tok], known: frozenset[str]) -> tuple[frozenset[str], bool]:
    """Known tables named anywhere in a read, and whether it reads something unknown."""
    tables: set[str] = set()
    opaque = False
    ctes: set[str] = set()
    for i, t in enumerate(toks):
        if _is_name(t) and i + 2 < len(toks) and toks[i + 1].upper == "AS" and toks[i + 2].text == "(":
            ctes.add(t.text)
    for i, t in enumerate(toks):
        if not _is_name(t):
            continue
        if t.text in known:
            tables.add(t.text)
            continue
        if t.kind == "word" and t.text.lower() in known and t.text.lower() != t.text:  # pragma: no cover
            tables.add(t.text.lower())
            continue
        prev = toks[i - 1] if i else None
        if prev is not None and prev.kind == "word" and prev.upper in ("FROM", "JOIN", "ONLY"):
            nxt = toks[i + 1] if i + 1 < len(toks) else None
            if nxt is not None and nxt.text in ("(", "."):
                continue  # a function in FROM, or a schema qualifier (the next name is checked)
            if t.kind == "word" and t.upper in ("LATERAL", "ONLY", "SELECT", "UNNEST"):
                continue
            if t.text in ctes:
                continue
            opaque = True
    return frozenset(tables), opaque


def _row_read(toks: Sequence[Tok], known: frozenset[str], pk_columns: Mapping[str, str]) -> RowRef | None:
    """``SELECT ... FROM main [JOIN ...] WHERE main.pk = x`` with no subquery."""
    if sum(1 for t in toks if t.upper == "SELECT") != 1:
        return None
    f = _find_top(toks, 0, "FROM")
    if f < 0:
        return None
    table, i = _qualified_name(toks, f + 1)
    if table is None or table not in known:
        return None
    alias, _ = _alias_after(toks, i)
    where = _find_top(toks, i, "WHERE")
    if where < 0:
        return None
    aliases = {table} | ({alias} if alias else set())
    return _pk_condition(toks, where + 1, table, aliases, pk_columns)


def _fast_kind(sql: str) -> str:
    head = sql.lstrip(" \t\r\n(")[:10].upper()
    return head.split(None, 1)[0] if head.strip() else ""


def is_plain_select(sql: str) -> bool:
    """True for statements that start with SELECT: reads, skipped cheaply when nothing records."""
    return sql.lstrip(" \t\r\n(")[:6].upper() == "SELECT"


class TableMeta:
    """What the parser knows about the schema: model tables and their primary-key columns.

    Hashed by identity so that the per-statement parse cache costs one dict lookup.
    """

    def __init__(self, pk_columns: Mapping[str, str]) -> None:
        self.pk_columns: dict[str, str] = dict(pk_columns)
        self.known: frozenset[str] = frozenset(self.pk_columns)


@functools.lru_cache(maxsize=4096)
def parse(sql: str, meta: TableMeta) -> Statement:
    """Classify one statement against the tables in ``meta``."""
    pk_columns = meta.pk_columns
    known = meta.known
    toks = tokenize(sql)
    while toks and toks[0].text == "(":
        toks = toks[1:]
    if not toks:
        return Statement(Kind.NEUTRAL)
    first = toks[0].upper
    if first == "EXPLAIN":
        uppers = {t.upper for t in toks if t.kind == "word"}
        if "ANALYZE" in uppers or "ANALYSE" in uppers:
            writes, unknown = _writes_anywhere(toks)
            if writes or unknown:
                return Statement(Kind.WRITE, writes=tuple(writes), unknown_write=unknown)
        return Statement(Kind.NEUTRAL)
    if first in _NEUTRAL:
        return Statement(Kind.NEUTRAL)
    if first in _READ_START or first == "WITH":
        if first == "WITH":
            writes, unknown = _writes_anywhere(toks)
            if writes or unknown:
                return Statement(Kind.WRITE, writes=tuple(writes), unknown_write=unknown)
        tables, opaque = _read_tables(toks, known)
        return Statement(Kind.READ, tables=tables, opaque=opaque, row_read=_row_read(toks, known, pk_columns))
    write: Write | None = None
    if first == "INSERT":
        write = _parse_insert(toks, 1, replace=False)
    elif first == "REPLACE":
        write = _parse_insert(toks, 1, replace=True)
    elif first == "UPDATE":
        write = _parse_update_delete(toks, 1, is_delete=False, pk_columns=pk_columns)
    elif first == "DELETE":
        write = _parse_update_delete(toks, 1, is_delete=True, pk_columns=pk_columns)
    elif first == "TRUNCATE":
        return _parse_truncate(toks)
    elif first == "MERGE":
        j = 1
        if j < len(toks) and toks[j].upper == "INTO":
            j += 1
        table, _ = _qualified_name(toks, j)
        if table is not None:
            write = Write(table, inserts=True, bulk=True)
    elif first == "COPY":
        table, j = _qualified_name(toks, 1)
        if j < len(toks) and toks[j].text == "(":
            depth = 0
            while j < len(toks):
                depth += {"(": 1, ")": -1}.get(toks[j].text, 0)
                j += 1
                if depth == 0:
                    break
        if j < len(toks) and toks[j].upper == "TO":
            return Statement(Kind.NEUTRAL)
        if table is not None:
            write = Write(table, inserts=True, bulk=True)
    if write is None:
        return Statement(Kind.WRITE, unknown_write=True)
    return Statement(Kind.WRITE, writes=(write,))


def _parse_truncate(toks: Sequence[Tok]) -> Statement:
    i = 1
    if i < len(toks) and toks[i].upper == "TABLE":
        i += 1
    writes: list[Write] = []
    while i < len(toks):
        if toks[i].upper == "ONLY":
            i += 1
        table, i = _qualified_name(toks, i)
        if table is None:
            break
        writes.append(Write(table, bulk=True))
        if i < len(toks) and toks[i].text == "*":
            i += 1
        if i < len(toks) and toks[i].text == ",":
            i += 1
            continue
        break
    uppers = {t.upper for t in toks[i:] if t.kind == "word"}
    # CASCADE empties tables we are not told about.
    unknown = not writes or "CASCADE" in uppers
    return Statement(Kind.WRITE, writes=tuple(writes), unknown_write=unknown)


__all__ = [
    "Kind",
    "RowRef",
    "Statement",
    "TableMeta",
    "Write",
    "is_plain_select",
    "parse",
    "row_key",
    "tokenize",
]
