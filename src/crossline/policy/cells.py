"""The cells of a decision table: the ZEN subset crossline accepts, parsed and compiled.

**Input cells** (unary tests against the column's value): empty (anything);
a literal (``5``, ``"gold"``, ``true``, ``null``), meaning equality; a
comparison ``< <= > >= == !=`` with a literal; an interval ``[1..5]``,
``(1..5)``, ``[1..5)`` or ``(1..5]``; or a comma list of these (any of them).

**Output cells**: literals (numbers, strings, booleans, ``null``, a list of
strings), input fields, ``+ - *`` and unary ``-`` on numbers, parentheses, and
the functions ``floor(x)``, ``min([..])``, ``max([..])``.

Everything else is refused, because each accepted form must mean the same in
zen-engine and in the compiled Polars expression, and zen has traps that a
policy must not fall into silently (checked against zen-engine 2.1):

* an ordered test (``> 5``, an interval) on a null value is an error in zen,
  and a comma list stops at its first error, so ``null, > 5`` matches null but
  ``> 5, null`` does not; the compiled form scans a list the same way;
* ``!= 5`` matches null; ``== 5`` does not;
* an output cell whose operator or function meets a null is an error, and
  zen then skips the *whole row*, falling through to the next one; the
  compiled form makes "every field used in arithmetic is present" part of the
  row's condition;
* division keeps the dividend's scale on Polars decimals and is exact in zen,
  so it is refused (multiply by a decimal instead); numbers in outputs are
  exact decimals on both sides;
* a string has no order, ``not(...)`` never matches and ``]1..5[`` is not an
  open interval in zen, so none of them is accepted;
* float inputs (ratios) may be compared but not computed with: the platform
  rounds them before a decision, and both evaluators then see the same value.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal, TypeAlias

import polars as pl

Kind = Literal["integer", "float", "string", "boolean"]
"""What an input column holds, from its Polars type."""

OutputType = Literal["number", "string", "boolean", "strings", "null"]

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<number>\d+(?:\.\d+)?)
      | (?P<string>"[^"\\]*"|'[^'\\]*')
      | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
      | (?P<op><=|>=|==|!=|\.\.|[<>+\-*/(),\[\]])
    )""",
    re.VERBOSE,
)

FUNCTIONS = ("floor", "min", "max")


class CellError(ValueError):
    """A cell crossline cannot run; the message says what was expected."""


def kind_of(dtype: pl.DataType) -> Kind:
    """The cell kind of an input column's Polars type."""
    if dtype.is_integer():
        return "integer"
    if dtype.is_float():
        return "float"
    if dtype == pl.String():
        return "string"
    if dtype == pl.Boolean():
        return "boolean"
    raise CellError(f"inputs of type {dtype} are not supported")


def _tokens(text: str) -> list[tuple[str, str]]:
    tokens, position = [], 0
    text = text.strip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise CellError(f"cannot read {text[position:]!r}")
        kind = match.lastgroup
        assert kind is not None
        tokens.append((kind, match.group(kind)))
        position = match.end()
    return tokens


class _Reader:
    def __init__(self, text: str) -> None:
        self.tokens = _tokens(text)
        self.at = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise CellError("the cell ends too early")
        self.at += 1
        return token

    def expect(self, value: str) -> None:
        token = self.take()
        if token[1] != value:
            raise CellError(f"expected {value!r}, found {token[1]!r}")

    def done(self) -> bool:
        return self.at == len(self.tokens)


# --------------------------------------------------------------------------- literals

Value: TypeAlias = Decimal | str | bool | None


def _literal(reader: _Reader) -> Value:
    """A number (optionally negative), a quoted string, true, false or null."""
    kind, text = reader.take()
    if text == "-":
        kind, text = reader.take()
        if kind != "number":
            raise CellError(f"expected a number after '-', found {text!r}")
        return -Decimal(text)
    if kind == "number":
        return Decimal(text)
    if kind == "string":
        return text[1:-1]
    if kind == "name" and text in ("true", "false"):
        return text == "true"
    if kind == "name" and text == "null":
        return None
    if kind == "name":
        raise CellError(f'{text!r} is not a literal; quote strings, e.g. "{text}"')
    raise CellError(f"expected a literal, found {text!r}")


def _literal_kind(value: Value) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, Decimal):
        return "number"
    if isinstance(value, str):
        return "string"
    return "null"


# --------------------------------------------------------------------------- input cells


@dataclass(frozen=True, slots=True)
class Equal:
    value: Value


@dataclass(frozen=True, slots=True)
class Compare:
    op: str
    value: Value


@dataclass(frozen=True, slots=True)
class Interval:
    low: Decimal
    high: Decimal
    low_closed: bool
    high_closed: bool


Test: TypeAlias = Equal | Compare | Interval


def _test(reader: _Reader) -> Test:
    token = reader.peek()
    assert token is not None
    if token[1] in ("<", "<=", ">", ">=", "==", "!="):
        reader.take()
        return Compare(token[1], _literal(reader))
    if token[1] in ("[", "("):
        reader.take()
        low = _literal(reader)
        reader.expect("..")
        high = _literal(reader)
        close = reader.take()[1]
        if close not in ("]", ")"):
            raise CellError(f"an interval ends with ']' or ')', found {close!r}")
        if not isinstance(low, Decimal) or not isinstance(high, Decimal):
            raise CellError("interval bounds must be numbers")
        if low > high:
            raise CellError(f"interval [{low}..{high}] is empty")
        return Interval(low, high, token[1] == "[", close == "]")
    if token[1] in ("]", ")"):
        raise CellError("write open intervals as (a..b); ']a..b[' means something else in ZEN")
    if token[0] == "name" and token[1] == "not":
        raise CellError("not(...) never matches in ZEN; use != or a comparison")
    return Equal(_literal(reader))


def parse_input(text: str) -> tuple[Test, ...]:
    """The tests of an input cell (any of them matches); empty means anything."""
    reader = _Reader(text)
    if reader.done():
        return ()
    tests = [_test(reader)]
    while not reader.done():
        reader.expect(",")
        tests.append(_test(reader))
    return tuple(tests)


def _check_test(test: Test, kind: Kind) -> None:
    ordered = isinstance(test, Interval) or (
        isinstance(test, Compare) and test.op not in ("==", "!=")
    )
    if ordered:
        if kind not in ("integer", "float"):
            raise CellError(f"a {kind} column can only be tested for equality")
        if isinstance(test, Compare) and not isinstance(test.value, Decimal):
            raise CellError(f"{test.op} needs a number")
        return
    value = test.value if isinstance(test, Equal | Compare) else None
    literal = _literal_kind(value)
    column = "number" if kind in ("integer", "float") else kind
    if literal == "null" and isinstance(test, Compare):
        raise CellError("compare with null by writing null (or != with a value)")
    if literal not in ("null", column):
        raise CellError(f"a {kind} column cannot equal the {literal} {value!r}")


def _number(value: Decimal, kind: Kind) -> pl.Expr:
    if kind == "integer" and value == value.to_integral_value():
        return pl.lit(int(value), pl.Int64)
    return pl.lit(float(value), pl.Float64)


def _when_present(test: Test, column: pl.Expr, kind: Kind) -> pl.Expr:
    """The test on a non-null value."""
    if isinstance(test, Interval):
        low, high = _number(test.low, kind), _number(test.high, kind)
        above = column >= low if test.low_closed else column > low
        below = column <= high if test.high_closed else column < high
        return above & below
    value = test.value
    if value is None:
        return pl.lit(False)
    literal = _number(value, kind) if isinstance(value, Decimal) else pl.lit(value)
    op = test.op if isinstance(test, Compare) else "=="
    comparisons = {
        "==": column == literal,
        "!=": column != literal,
        "<": column < literal,
        "<=": column <= literal,
        ">": column > literal,
        ">=": column >= literal,
    }
    return comparisons[op]


def _when_null(tests: tuple[Test, ...]) -> bool:
    """Whether the cell matches a null value, scanning the list as zen does: a null test or
    != matches, an equality does not and goes on, an ordered test is an error and stops."""
    for test in tests:
        if isinstance(test, Equal):
            if test.value is None:
                return True
            continue
        if isinstance(test, Compare) and test.op == "!=":
            return True
        if isinstance(test, Compare) and test.op == "==":
            continue
        return False
    return False


def compile_input(text: str, column: str, kind: Kind) -> pl.Expr:
    """A boolean expression (never null) that is true where the cell matches ``column``."""
    tests = parse_input(text)
    if not tests:
        return pl.lit(True)
    for test in tests:
        _check_test(test, kind)
    value = pl.col(column)
    present = pl.any_horizontal([_when_present(test, value, kind) for test in tests])
    return pl.when(value.is_null()).then(pl.lit(_when_null(tests))).otherwise(present)


# --------------------------------------------------------------------------- output cells


@dataclass(frozen=True, slots=True)
class Constant:
    value: Value | tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Field:
    name: str


@dataclass(frozen=True, slots=True)
class Negate:
    operand: Node


@dataclass(frozen=True, slots=True)
class Arithmetic:
    op: str
    left: Node
    right: Node


@dataclass(frozen=True, slots=True)
class Call:
    function: str
    arguments: tuple[Node, ...]


Node: TypeAlias = Constant | Field | Negate | Arithmetic | Call


def _expression(reader: _Reader) -> Node:
    node = _term(reader)
    while (token := reader.peek()) is not None and token[1] in ("+", "-"):
        reader.take()
        node = Arithmetic(token[1], node, _term(reader))
    return node


def _term(reader: _Reader) -> Node:
    node = _unary(reader)
    while (token := reader.peek()) is not None and token[1] in ("*", "/"):
        reader.take()
        if token[1] == "/":
            raise CellError("division is not supported; multiply by a decimal, e.g. x * 0.5")
        node = Arithmetic("*", node, _unary(reader))
    return node


def _unary(reader: _Reader) -> Node:
    token = reader.peek()
    if token is not None and token[1] == "-":
        reader.take()
        return Negate(_unary(reader))
    return _atom(reader)


def _atom(reader: _Reader) -> Node:
    kind, text = reader.take()
    if text == "(":
        node = _expression(reader)
        reader.expect(")")
        return node
    if text == "[":
        return Constant(_strings(reader))
    if kind == "name" and (following := reader.peek()) is not None and following[1] == "(":
        return _call(text, reader)
    if kind == "name" and text not in ("true", "false", "null"):
        return Field(text)
    reader.at -= 1
    return Constant(_literal(reader))


def _strings(reader: _Reader) -> tuple[str, ...]:
    values: list[str] = []
    while True:
        kind, text = reader.take()
        if kind != "string":
            raise CellError(f"a list in an output holds quoted strings, found {text!r}")
        values.append(text[1:-1])
        separator = reader.take()[1]
        if separator == "]":
            return tuple(values)
        if separator != ",":
            raise CellError(f"expected ',' or ']' in a list, found {separator!r}")


def _call(name: str, reader: _Reader) -> Node:
    if name not in FUNCTIONS:
        raise CellError(f"unknown function {name!r}; supported: {', '.join(FUNCTIONS)}")
    reader.expect("(")
    if name == "floor":
        arguments: tuple[Node, ...] = (_expression(reader),)
    else:
        reader.expect("[")
        items = [_expression(reader)]
        while (token := reader.take())[1] == ",":
            items.append(_expression(reader))
        if token[1] != "]":
            raise CellError(f"{name} takes one list, e.g. {name}([a, b]); found {token[1]!r}")
        arguments = tuple(items)
    reader.expect(")")
    return Call(name, arguments)


def parse_output(text: str) -> Node:
    """The expression of an output cell; an empty cell is null."""
    reader = _Reader(text)
    if reader.done():
        return Constant(None)
    node = _expression(reader)
    if not reader.done():
        raise CellError(f"unexpected {reader.take()[1]!r}")
    return node


@dataclass(frozen=True, slots=True)
class Output:
    """A compiled output cell: its type, its value expression and the fields that must be
    present for zen to evaluate it (else zen skips the row)."""

    type: OutputType
    scale: int
    expression: Node
    required: frozenset[str]


def _typed(node: Node, kinds: dict[str, Kind], bare: bool) -> tuple[OutputType, int, set[str]]:
    """(type, decimal places, fields used under an operator) of a node."""
    if isinstance(node, Constant):
        value = node.value
        if isinstance(value, tuple):
            return "strings", 0, set()
        if isinstance(value, Decimal):
            exponent = value.as_tuple().exponent
            assert isinstance(exponent, int)
            return "number", max(0, -exponent), set()
        kind = _literal_kind(value)
        return kind, 0, set()  # type: ignore[return-value]
    if isinstance(node, Field):
        if node.name not in kinds:
            raise CellError(f"unknown input {node.name!r}")
        kind = kinds[node.name]
        if kind == "float":
            raise CellError(f"{node.name!r} is a ratio; outputs may use whole-number inputs only")
        output_type: OutputType = "number" if kind == "integer" else kind
        return output_type, 0, set() if bare else {node.name}
    parts = [node.operand] if isinstance(node, Negate) else _operands(node)
    scale, used = 0, set()
    for part in parts:
        part_type, part_scale, part_used = _typed(part, kinds, bare=False)
        if part_type != "number":
            raise CellError(f"arithmetic needs numbers, found a {part_type}")
        used |= part_used | ({part.name} if isinstance(part, Field) else set())
        scale = part_scale + scale if _multiplies(node) else max(scale, part_scale)
    return "number", scale, used


def _operands(node: Arithmetic | Call) -> list[Node]:
    return [node.left, node.right] if isinstance(node, Arithmetic) else list(node.arguments)


def _multiplies(node: Node) -> bool:
    return isinstance(node, Arithmetic) and node.op == "*"


def compile_output(text: str, kinds: dict[str, Kind]) -> Output:
    """Parse and type-check an output cell against the input columns' kinds."""
    node = parse_output(text)
    output_type, scale, used = _typed(node, kinds, bare=True)
    if isinstance(node, Call) and node.function == "floor":
        scale = 0
    return Output(output_type, scale, node, frozenset(used))


DECIMAL_PRECISION = 38


def column_dtype(outputs: Sequence[Output]) -> pl.DataType:
    """One Polars type for an output column across its rows; numbers become a decimal
    with enough places for every row."""
    types = {o.type for o in outputs} - {"null"}
    if len(types) > 1:
        raise CellError(f"its rows mix {' and '.join(sorted(types))} values")
    kind = types.pop() if types else "string"
    if kind == "number":
        return pl.Decimal(DECIMAL_PRECISION, max(o.scale for o in outputs))
    return {
        "string": pl.String(),
        "boolean": pl.Boolean(),
        "strings": pl.List(pl.String()),
    }[kind]


def output_expression(output: Output, dtype: pl.DataType) -> pl.Expr:
    """The cell's value as a Polars expression of the column's type ``dtype``."""
    return _expr(output.expression).cast(dtype)


def _expr(node: Node) -> pl.Expr:
    if isinstance(node, Constant):
        value = node.value
        if isinstance(value, tuple):
            # .first(): a scalar, broadcast to every row, not a column of length one.
            return pl.lit(pl.Series([list(value)], dtype=pl.List(pl.String))).first()
        if isinstance(value, Decimal):
            return pl.lit(value)
        return pl.lit(value)
    if isinstance(node, Field):
        return pl.col(node.name)
    if isinstance(node, Negate):
        return -_number_expr(node.operand)
    if isinstance(node, Arithmetic):
        left, right = _number_expr(node.left), _number_expr(node.right)
        return {"+": left + right, "-": left - right, "*": left * right}[node.op]
    arguments = [_number_expr(argument) for argument in node.arguments]
    if node.function == "floor":
        return arguments[0].floor()
    if node.function == "min":
        return pl.min_horizontal(arguments)
    return pl.max_horizontal(arguments)


def _number_expr(node: Node) -> pl.Expr:
    """A numeric node as an exact decimal (integer inputs widen without loss)."""
    expression = _expr(node)
    if isinstance(node, Field):
        return expression.cast(pl.Decimal(DECIMAL_PRECISION, 0))
    return expression
