"""Parse Triton's printed TTIR into the plain model of `ttir.py`.

Triton prints one op per line, regions open with `{` at the end of a line,
and every op ends in `loc(...)` when debug info is on.  The parser scans each
op's text with bracket tracking, cuts out nested regions, and reads operands,
attributes and types.  Result types come from the printed type section
(`A to B`, `A -> B`, `(A, B) -> C`) or, for the few ops whose custom syntax
prints only the operand type, from a small rule table (`_RESULT_RULES`).
"""
from __future__ import annotations

import re
from typing import Optional

from .ttir import (Argument, Block, Function, Loc, Module, Op, OpaqueType,
                   PtrType, Region, ScalarType, TensorType, Type, UNKNOWN_LOC,
                   Value, shape_of)


class TTIRParseError(ValueError):
    """The TTIR text could not be read."""


_SCALARS = {"i1", "i8", "i16", "i32", "i64", "f16", "bf16", "f32", "f64", "index",
            "f8E4M3FN", "f8E5M2", "f8E4M3FNUZ", "f8E5M2FNUZ", "f8E4M3B11FNUZ"}


# ----------------------------------------------------------------- types ---

def parse_type(text: str) -> Type:
    """Parse one TTIR type such as `tensor<64x!tt.ptr<f32>>`."""
    t = text.strip()
    if t in _SCALARS:
        return ScalarType(t)
    if t.startswith("!tt.ptr<") and t.endswith(">"):
        inner = t[len("!tt.ptr<"):-1]
        parts = _split_top(inner, ",")
        space = int(parts[1]) if len(parts) > 1 else 1
        return PtrType(parse_type(parts[0]), space)
    if t.startswith("tensor<") and t.endswith(">"):
        inner = t[len("tensor<"):-1]
        inner = _split_top(inner, ",")[0]  # drop an encoding, if any
        dims = []
        while True:
            m = re.match(r"(\d+)x", inner)
            if not m:
                break
            dims.append(int(m.group(1)))
            inner = inner[m.end():]
        return TensorType(tuple(dims), parse_type(inner))
    return OpaqueType(t)


def parse_type_list(text: str) -> list:
    """Parse `T`, `T, U` or `(T, U)` into a list of types."""
    t = text.strip()
    if not t:
        return []
    if t.startswith("(") and _matching(t, 0) == len(t) - 1:
        t = t[1:-1]
    return [parse_type(p) for p in _split_top(t, ",") if p.strip()]


# --------------------------------------------------------- text helpers ---

_OPEN = {"(": ")", "[": "]", "{": "}", "<": ">"}


def _matching(s: str, i: int) -> int:
    """Index of the bracket closing the one at `s[i]`."""
    depth = 0
    j = i
    while j < len(s):
        c = s[j]
        if c == '"':
            j = _skip_string(s, j)
            continue
        if c in _OPEN:
            depth += 1
        elif c in ")]}" or (c == ">" and s[j - 1] != "-"):
            depth -= 1
            if depth == 0:
                return j
        j += 1
    raise TTIRParseError(f"unbalanced bracket in {s[i:i + 80]!r}")


def _skip_string(s: str, i: int) -> int:
    j = i + 1
    while j < len(s):
        if s[j] == "\\":
            j += 2
            continue
        if s[j] == '"':
            return j + 1
        j += 1
    raise TTIRParseError("unterminated string")


def _split_top(s: str, sep: str) -> list:
    """Split on `sep` at bracket depth 0."""
    out, depth, start, j = [], 0, 0, 0
    while j < len(s):
        c = s[j]
        if c == '"':
            j = _skip_string(s, j)
            continue
        if c in _OPEN:
            depth += 1
        elif c in ")]}" or (c == ">" and j > 0 and s[j - 1] != "-"):
            depth -= 1
        elif depth == 0 and s.startswith(sep, j):
            out.append(s[start:j])
            start = j + len(sep)
            j += len(sep)
            continue
        j += 1
    out.append(s[start:])
    return out


def _find_top(s: str, needle: str, last: bool = False) -> int:
    """Position of `needle` at bracket depth 0, or -1."""
    depth, j, hit = 0, 0, -1
    while j < len(s):
        c = s[j]
        if c == '"':
            j = _skip_string(s, j)
            continue
        if depth == 0 and s.startswith(needle, j):
            hit = j
            if not last:
                return j
        if c in _OPEN:
            depth += 1
        elif c in ")]}" or (c == ">" and j > 0 and s[j - 1] != "-"):
            depth -= 1
        j += 1
    return hit


def parse_attr_dict(text: str) -> dict:
    """`{a = 1 : i32, b}` (or the inside of `<{...}>`) into name -> text."""
    t = text.strip()
    if t.startswith("<{"):
        t = t[1:-1]
    if t.startswith("{"):
        t = t[1:-1]
    attrs = {}
    for part in _split_top(t, ","):
        part = part.strip()
        if not part:
            continue
        eq = _find_top(part, "=")
        if eq < 0:
            attrs[part.strip('"')] = "unit"
        else:
            attrs[part[:eq].strip().strip('"')] = part[eq + 1:].strip()
    return attrs


# ------------------------------------------------------------- locations ---

_LOC_FILE = re.compile(r'^"((?:[^"\\]|\\.)*)":(\d+):(\d+)')
_LOC_NAME = re.compile(r'^"((?:[^"\\]|\\.)*)"\((.*)\)$', re.S)


class _Locs:
    """Resolves `loc(...)` text, following `#locN` aliases."""

    def __init__(self, aliases: dict):
        self.aliases = aliases
        self.cache = {}

    def resolve(self, inner: str, depth: int = 0) -> Loc:
        inner = inner.strip()
        if depth > 32:
            return UNKNOWN_LOC
        if inner.startswith("#"):
            if inner in self.cache:
                return self.cache[inner]
            text = self.aliases.get(inner[1:], "")
            if text.startswith("loc(") and text.endswith(")"):
                text = text[4:-1]
            loc = self.resolve(text, depth + 1)
            self.cache[inner] = loc
            return loc
        m = _LOC_FILE.match(inner)
        if m:
            return Loc(m.group(1), int(m.group(2)), int(m.group(3)))
        m = _LOC_NAME.match(inner)
        if m:
            child = self.resolve(m.group(2), depth + 1)
            return Loc(child.file, child.line, child.col, m.group(1))
        if inner.startswith("callsite("):
            # callsite(callee at caller): report the innermost frame
            body = inner[len("callsite("):-1]
            at = _find_top(body, " at ")
            return self.resolve(body[:at] if at >= 0 else body, depth + 1)
        if inner.startswith("fused"):
            b = inner.find("[")
            parts = _split_top(inner[b + 1:inner.rfind("]")], ",")
            for p in parts:
                loc = self.resolve(p, depth + 1)
                if loc.file:
                    return loc
        return UNKNOWN_LOC


# ---------------------------------------------------------------- parser ---

_RESULT_NAME = re.compile(r"%([\w$.#-]+)(?::(\d+))?")
_VALUE_REF = re.compile(r"%[\w$.-]+(?:#\d+)?")


class _Parser:
    def __init__(self, text: str):
        aliases = {}
        body_lines = []
        for line in text.splitlines():
            m = re.match(r"^#([\w$.-]+)\s*=\s*(.*)$", line)
            if m:
                aliases[m.group(1)] = m.group(2).strip()
            else:
                body_lines.append(line)
        self.s = "\n".join(body_lines)
        self.i = 0
        self.locs = _Locs(aliases)
        self.scopes = [{}]

    # -- scanning
    def ws(self):
        s = self.s
        while self.i < len(s):
            if s[self.i] in " \t\r\n":
                self.i += 1
            elif s.startswith("//", self.i):
                nl = s.find("\n", self.i)
                self.i = len(s) if nl < 0 else nl
            else:
                break

    def peek(self, tok: str) -> bool:
        self.ws()
        return self.s.startswith(tok, self.i)

    def expect(self, tok: str):
        if not self.peek(tok):
            raise TTIRParseError(f"expected {tok!r} at {self.s[self.i:self.i + 60]!r}")
        self.i += len(tok)

    # -- values
    def define(self, name: str, ty: Type) -> Value:
        v = Value(name, ty)
        self.scopes[-1][name] = v
        return v

    def lookup(self, name: str) -> Value:
        for scope in reversed(self.scopes):
            if name in scope:
                return scope[name]
        if "#" not in name:
            for scope in reversed(self.scopes):
                if name + "#0" in scope:
                    return scope[name + "#0"]
        raise TTIRParseError(f"use of undefined value {name}")

    # -- module
    def module(self) -> Module:
        self.ws()
        if self.peek("module"):
            self.i += len("module")
            while not self.peek("{"):
                # `attributes {...}` or a module name
                if self.peek("attributes"):
                    self.i += len("attributes")
                    self.ws()
                    self.i = _matching(self.s, self.i) + 1
                else:
                    self.i += 1
            self.expect("{")
            fns = self.functions(until="}")
            self.expect("}")
        else:
            fns = self.functions(until=None)
        return Module(fns)

    def functions(self, until: Optional[str]) -> list:
        fns = []
        while True:
            self.ws()
            if self.i >= len(self.s) or (until and self.peek(until)):
                return fns
            if self.peek("tt.func"):
                fns.append(self.function())
            else:
                raise TTIRParseError(f"expected tt.func at {self.s[self.i:self.i + 60]!r}")

    def _trailing_loc(self) -> Loc:
        """Consume an optional `loc(...)` that ends the current construct."""
        save = self.i
        self.ws()
        if self.s.startswith("loc(", self.i):
            end = _matching(self.s, self.i + 3)
            loc = self.locs.resolve(self.s[self.i + 4:end])
            self.i = end + 1
            return loc
        self.i = save
        return UNKNOWN_LOC

    def function(self) -> Function:
        self.expect("tt.func")
        self.ws()
        public = True
        m = re.compile(r"(public|private|nested)\s+").match(self.s, self.i)
        if m:
            public = m.group(1) == "public"
            self.i = m.end()
        self.expect("@")
        m = re.compile(r"[\w$.-]+").match(self.s, self.i)
        name = m.group(0)
        self.i = m.end()
        self.ws()
        end = _matching(self.s, self.i)
        arg_text = self.s[self.i + 1:end]
        self.i = end + 1
        self.scopes.append({})
        args = []
        for part in _split_top(arg_text, ","):
            part = part.strip()
            if not part:
                continue
            pm = re.match(r"(%[\w$.-]+)\s*:\s*", part)
            rest = part[pm.end():]
            rest = re.sub(r"\s*loc\(.*\)\s*$", "", rest, flags=re.S)
            attrs = {}
            brace = _find_top(rest, "{")
            if brace >= 0:
                attrs = parse_attr_dict(rest[brace:])
                rest = rest[:brace]
            args.append(Argument(self.define(pm.group(1), parse_type(rest)), attrs))
        # optional result types and attributes before the body
        header_end = self._region_start()
        header = self.s[self.i:header_end]
        results = []
        arrow = _find_top(header, "->")
        if arrow >= 0:
            att = _find_top(header, "attributes")
            results = parse_type_list(header[arrow + 2: att if att > arrow else None])
        self.i = header_end
        body = self.region_body(implicit_args=[])
        loc = self._trailing_loc()
        self.scopes.pop()
        return Function(name, args, body.blocks[0], loc, public, results, blocks=body.blocks)

    def _region_start(self) -> int:
        """Index of the `{` that opens a region (a `{` ending its line)."""
        j = self.i
        s = self.s
        while j < len(s):
            if s[j] == '"':
                j = _skip_string(s, j)
                continue
            if s[j] == "{":
                k = j + 1
                while k < len(s) and s[k] in " \t":
                    k += 1
                if k >= len(s) or s[k] in "\r\n":
                    return j
                j = _matching(s, j) + 1
                continue
            j += 1
        raise TTIRParseError("expected a region")

    def region_body(self, implicit_args: list) -> Region:
        """Parse `{ ... }` at self.i into a region; args come from the op."""
        self.expect("{")
        region = Region()
        block = Block(args=list(implicit_args))
        region.blocks.append(block)
        while True:
            self.ws()
            if self.peek("}"):
                self.i += 1
                break
            if self.peek("^"):
                m = re.compile(r"\^[\w$.-]+").match(self.s, self.i)
                self.i = m.end()
                args = []
                if self.peek("("):
                    end = _matching(self.s, self.i)
                    for part in _split_top(self.s[self.i + 1:end], ","):
                        part = re.sub(r"\s*loc\(.*\)\s*$", "", part.strip(), flags=re.S)
                        if not part:
                            continue
                        n, t = part.split(":", 1)
                        args.append(self.define(n.strip(), parse_type(t)))
                    self.i = end + 1
                self.expect(":")
                if block.ops or block.args:
                    block = Block(args=args, label=m.group(0))
                    region.blocks.append(block)
                else:
                    block.args = args
                    block.label = m.group(0)
                continue
            block.ops.append(self.op())
        return region

    def op(self) -> Op:
        self.ws()
        start = self.i
        result_names = []
        m = re.compile(r"((?:%[\w$.-]+(?::\d+)?\s*,\s*)*%[\w$.-]+(?::\d+)?)\s*=\s*").match(self.s, self.i)
        if m:
            for rm in _RESULT_NAME.finditer(m.group(1)):
                n = int(rm.group(2) or 1)
                base = "%" + rm.group(1)
                result_names += [base] if n == 1 else [f"{base}#{k}" for k in range(n)]
            self.i = m.end()
        if self.s[self.i] == '"':
            end = _skip_string(self.s, self.i)
            name = self.s[self.i + 1:end - 1]
            self.i = end
        else:
            m = re.compile(r"[\w$.]+").match(self.s, self.i)
            if not m:
                raise TTIRParseError(f"expected an op at {self.s[start:start + 60]!r}")
            name = m.group(0)
            self.i = m.end()
        # scan the op's text; cut regions out, stop at `loc(` or end of line
        text, has_region, loc = [], False, UNKNOWN_LOC
        s = self.s
        depth = 0
        seg_start = self.i
        while self.i < len(s):
            c = s[self.i]
            if c == '"':
                self.i = _skip_string(s, self.i)
                continue
            if s.startswith("loc(", self.i) and (self.i == 0 or not (s[self.i - 1].isalnum() or s[self.i - 1] == "_")):
                end = _matching(s, self.i + 3)
                if depth == 0:
                    text.append(s[seg_start:self.i])
                    loc = self.locs.resolve(s[self.i + 4:end])
                    self.i = end + 1
                    seg_start = self.i
                    break
                self.i = end + 1
                continue
            if c == "{":
                k = self.i + 1
                while k < len(s) and s[k] in " \t":
                    k += 1
                if k >= len(s) or s[k] in "\r\n":
                    text.append(s[seg_start:self.i] + " $R ")
                    has_region = True
                    seg_start = None
                    break
            if c in _OPEN:
                depth += 1
            elif c in ")]}" or (c == ">" and s[self.i - 1] != "-"):
                depth -= 1
            elif c == "\n" and depth == 0:
                break
            self.i += 1
        if seg_start is not None and not text:
            text.append(s[seg_start:self.i])
        op = Op(name, [], [], loc=loc)
        if has_region:
            self._op_with_regions(op, "".join(text), result_names)
        else:
            self._finish(op, "".join(text), result_names)
        return op

    # -- ops with regions: parse header, regions, then the tail
    def _op_with_regions(self, op: Op, head: str, result_names: list):
        texts = [head]
        while True:
            head_text = " ".join(texts)
            implicit = self._region_args(op.name, head_text, len(op.regions))
            self.scopes.append({})
            for a in implicit:
                self.scopes[-1][a.name] = a
            op.regions.append(self.region_body(implicit))
            self.scopes.pop()
            # the tail: `else {`, `do {`, `) : types`, `loc(...)`
            tail_start = self.i
            s = self.s
            depth = 0
            more = False
            while self.i < len(s):
                c = s[self.i]
                if c == '"':
                    self.i = _skip_string(s, self.i)
                    continue
                if s.startswith("loc(", self.i) and depth <= 0:
                    texts.append(s[tail_start:self.i])
                    end = _matching(s, self.i + 3)
                    op.loc = self.locs.resolve(s[self.i + 4:end])
                    self.i = end + 1
                    break
                if c == "{":
                    k = self.i + 1
                    while k < len(s) and s[k] in " \t":
                        k += 1
                    if k >= len(s) or s[k] in "\r\n":
                        texts.append(s[tail_start:self.i] + " $R ")
                        more = True
                        break
                if c == "," and depth <= 0 and s[self.i + 1:self.i + 2] in " \n" and s[self.i + 1:].lstrip().startswith("{"):
                    # `}, {` separating generic-form regions
                    self.i += 1
                    while s[self.i] in " \t\r\n":
                        self.i += 1
                    texts.append(s[tail_start:self.i] + " $R ")
                    more = True
                    break
                if c in _OPEN:
                    depth += 1
                elif c in ")]}" or (c == ">" and s[self.i - 1] != "-"):
                    depth -= 1
                elif c == "\n" and depth <= 0:
                    texts.append(s[tail_start:self.i])
                    break
                self.i += 1
            if not more:
                break
        self._finish(op, " ".join(texts), result_names)

    def _region_args(self, name: str, head: str, index: int) -> list:
        """Block arguments that an op's syntax declares outside its region."""
        if name == "scf.for" and index == 0:
            m = re.search(r"(%[\w$.-]+)\s*=", head)
            colon = _find_top(head, " : ", last=True)
            iv_type = parse_type(head[colon + 3:].replace("$R", "").strip()) if colon >= 0 else ScalarType("index")
            args = [Value(m.group(1), iv_type)]
            ia = head.find("iter_args(")
            if ia >= 0:
                end = _matching(head, ia + len("iter_args"))
                pairs = _split_top(head[ia + len("iter_args("):end], ",")
                arrow = head.find("->", end)
                types = parse_type_list(head[arrow + 2:colon if colon > arrow else None]) if arrow >= 0 else []
                for p, t in zip(pairs, types):
                    args.append(Value(p.split("=")[0].strip(), t))
            return args
        if name == "scf.while" and index == 0:
            lp = head.find("(")
            if lp < 0 or lp > head.find(":"):
                return []  # `scf.while : () -> ()` carries nothing
            end = _matching(head, lp)
            pairs = [p for p in _split_top(head[lp + 1:end], ",") if p.strip()]
            colon = _find_top(head, " : ", last=True)
            fn_types = head[colon + 3:].replace("$R", "")
            arrow = _find_top(fn_types, "->")
            types = parse_type_list(fn_types[:arrow])
            return [Value(p.split("=")[0].strip(), t) for p, t in zip(pairs, types)]
        return []

    # -- operands, attributes and result types from an op's text
    def _finish(self, op: Op, text: str, result_names: list):
        name = op.name
        # properties and attribute dictionaries at depth 0
        attrs = {}
        body = []
        j = 0
        while j < len(text):
            c = text[j]
            if c == '"':
                k = _skip_string(text, j)
                body.append(text[j:k])
                j = k
                continue
            if text.startswith("<{", j):
                k = _matching(text, j)
                attrs.update(parse_attr_dict(text[j:k + 1]))
                j = k + 1
                continue
            if c == "{":
                k = _matching(text, j)
                attrs.update(parse_attr_dict(text[j:k + 1]))
                j = k + 1
                continue
            if c in "([<":
                k = _matching(text, j)
                body.append(text[j:k + 1])
                j = k + 1
                continue
            body.append(c)
            j += 1
        flat = "".join(body)
        if name == "tt.print":
            colon = _find_top(flat, " : ")
        else:
            colon = _find_top(flat, " : ", last=True)
        head, types = (flat[:colon], flat[colon + 3:]) if colon >= 0 else (flat, "")
        types = types.replace("$R", "").strip()
        # a trailing `attributes {...}` (e.g. a loop annotation) leaves its keyword behind
        types = re.sub(r"\s*\battributes\s*$", "", types)
        if name == "scf.while":
            types = re.sub(r"\s*do\s*$", "", types)
        op.extra["_flat"] = flat
        op.attrs = attrs
        # `key = word` keyword arguments (cacheModifier = ca, inputPrecision = tf32)
        for km in re.finditer(r"(\w+)\s*=\s*([\w.]+)", re.sub(r"\(.*?\)", "", head)):
            op.extra[km.group(1)] = km.group(2)
        if name == "arith.constant" and not types and head.strip() in ("true", "false"):
            types = "i1"  # `arith.constant true` prints no type
        if name == "arith.constant":
            op.attrs["value"] = f"{head.strip()} : {types}"
        operand_names = _VALUE_REF.findall(head)
        if name == "tt.call":
            cm = re.search(r"@([\w$.-]+)", head)
            op.extra["callee"] = cm.group(1) if cm else ""
        if name in ("cf.br", "cf.cond_br"):
            op.extra["successors"] = [(m.group(1), [self.lookup(v) for v in _VALUE_REF.findall(m.group(2) or "")])
                                      for m in re.finditer(r"(\^[\w$.-]+)(?:\(([^)]*)\))?", head)]
        if name == "tt.print":  # tt.print "prefix" {attrs} : %a, %b : types
            operand_names = _VALUE_REF.findall(flat)
        elif name == "scf.for":
            operand_names = self._for_operands(head)
        elif name == "scf.while":
            lp = head.find("(")
            operand_names = []
            if lp >= 0:
                end = _matching(head, lp)
                operand_names = [p.split("=")[1].strip() for p in _split_top(head[lp + 1:end], ",") if "=" in p]
        op.operands = [self.lookup(n) for n in operand_names]
        words = re.findall(r"^\s*([a-z_]+)\b", head)
        if words:
            op.extra["keyword"] = words[0]
        op.extra["keywords"] = re.findall(r"(?<![%\w#])([a-z_]+)(?=\s*,|\s*$)", head)
        if name == "tt.dot_scaled":  # `%a [scale %sa], %b [scale %sb], %acc`: which operands carry scales
            parts = _split_top(head, ",")
            op.extra["scaled"] = tuple(" scale " in f" {p} " for p in parts[:2])
        if name in ("tt.print", "tt.assert"):
            sm = re.search(r'"((?:[^"\\]|\\.)*)"', head)
            op.extra["message"] = sm.group(1) if sm else ""
        result_types = self._result_types(op, types, len(result_names))
        op.results = [self.define(n, t) for n, t in zip(result_names, result_types)]
        op.extra["types"] = types

    def _for_operands(self, head: str) -> list:
        m = re.search(r"%[\w$.-]+\s*=\s*(%[\w$.-]+(?:#\d+)?)\s+to\s+(%[\w$.-]+(?:#\d+)?)\s+step\s+(%[\w$.-]+(?:#\d+)?)", head)
        names = [m.group(1), m.group(2), m.group(3)]
        ia = head.find("iter_args(")
        if ia >= 0:
            end = _matching(head, ia + len("iter_args"))
            for p in _split_top(head[ia + len("iter_args("):end], ","):
                if "=" in p:
                    names.append(p.split("=")[1].strip())
        return names

    def _result_types(self, op: Op, types: str, n: int) -> list:
        if n == 0:
            return []
        if op.name in ("scf.for", "scf.if"):
            return _scf_result_types(op.extra["_flat"])
        arrow = _find_top(types, "->")
        if arrow >= 0:
            out = parse_type_list(types[arrow + 2:])
        else:
            to = _find_top(types, " to ")
            if to >= 0:
                out = parse_type_list(types[to + 4:])
            else:
                listed = parse_type_list(types)
                rule = _RESULT_RULES.get(op.name)
                out = rule(op, listed) if rule else listed[:1]
        if not out:
            raise TTIRParseError(f"cannot infer the result types of {op.name} from {types!r}")
        if len(out) < n:
            out = out + [out[-1]] * (n - len(out))
        return out


def _pointee_like(op: Op, listed: list) -> list:
    t = listed[0]
    if isinstance(t, TensorType) and isinstance(t.element, PtrType):
        return [TensorType(t.shape, t.element.pointee)]
    if isinstance(t, PtrType):
        return [t.pointee]
    return [t]


def _i1_like(op: Op, listed: list) -> list:
    shape = shape_of(listed[0])
    return [TensorType(shape, ScalarType("i1")) if shape else ScalarType("i1")]


_RESULT_RULES = {
    "tt.load": _pointee_like,
    "arith.cmpi": _i1_like,
    "arith.cmpf": _i1_like,
    "arith.select": lambda op, listed: [listed[-1]],
    "tt.addptr": lambda op, listed: [listed[0]],
}


def parse_ttir(text: str) -> Module:
    """Parse printed TTIR (Triton's `.ttir` text) into a `Module`."""
    p = _Parser(text)
    mod = p.module()
    mod.text = text
    return mod


def _scf_result_types(flat: str) -> list:
    """`scf.for ... -> (T, U) : i32 $R` and `scf.if %c -> (T) $R else $R`."""
    arrow = _find_top(flat, "->")
    if arrow < 0:
        return []
    seg = flat[arrow + 2:]
    for stop in (" : ", "$R"):
        k = _find_top(seg, stop)
        if k >= 0:
            seg = seg[:k]
    return parse_type_list(seg)
