"""Card fragments: each card's output rendered once per send and reused for every reader.

A card looks the same to every reader who gets it, except for the two signed feedback URLs (and the
name those links talk about, which depends on what the reader follows). Rendering 8-20 cards per
reader was most of the Jinja time of a digest, so the templates' card loop is split on Jinja's own
syntax tree:

    {% for c in cards %}BODY{% endfor %}   ->   {% for c in cards %}{{ _card_fragment(c, ...) }}{% endfor %}

BODY becomes a template of its own (whitespace control was already applied by Jinja's lexer, so
the output is the same to the byte). `_card_fragment` renders BODY once per card and the values
BODY reads besides the card (`loop.index`, outer variables, the feedback name), with placeholder
feedback URLs, and afterwards only splices this reader's URLs (through the same `|url` filter)
into the cached pieces.

Lifting is refused, and the template renders as before, whenever the body could read something the
cache key does not hold: includes and macros, the card passed whole to a filter or function, the
feedback links used other than as `{{c.fb.<x>_url|url}}` and `{{c.fb.name}}`, loop helpers that look
at other cards (`loop.cycle`, `loop.previtem`), functions not known to be pure. The tests compare
lifted and plain renders of the real templates and of templates built to trip each rule.
"""

from __future__ import annotations

import itertools
import re
import secrets
from dataclasses import dataclass

import jinja2
from jinja2 import meta, nodes
from markupsafe import Markup, escape

__all__ = ["lift_cards", "CardFragments", "WithFeedback", "FRAGMENT_FUNCTION"]

FRAGMENT_FUNCTION = "_card_fragment"
LOOP_NAME = "cards"
FEEDBACK = "fb"
# loop attributes that depend only on the card's position, never on the other cards' contents
_LOOP_ATTRS = {"index", "index0", "revindex", "revindex0", "first", "last", "length", "depth", "depth0"}
# functions a template may call inside a card: pure, so their output can be cached
# (the gettext functions too: each language has its own environment, so the same message always
# gives the same text there, and the function itself joins the cache key as an outer value)
_PURE_GLOBALS = {"range", "dict", "_", "gettext", "ngettext", "pgettext", "npgettext"}
_IMPURE_FILTERS = {"random"}
_REFUSED_NODES = (
    nodes.Include, nodes.Import, nodes.FromImport, nodes.Extends, nodes.Block, nodes.Macro,
    nodes.CallBlock, nodes.ContextReference, nodes.DerivedContextReference, nodes.EvalContextModifier,
    nodes.ExtensionAttribute, nodes.InternalName, nodes.ImportedName,
    # output captured or transformed as a whole: a placeholder's length or case could leak through
    nodes.AssignBlock, nodes.FilterBlock,
)
MAX_VARIANTS_PER_CARD = 32
_serial = itertools.count(1)


class WithFeedback:
    """A card view shared by a send's readers, seen with one reader's feedback links (`fb`).

    Reading any other attribute reads the shared card, so nothing is copied per reader.
    """

    __slots__ = ("card", "fb")

    def __init__(self, card, fb):
        self.card, self.fb = card, fb

    def __getattr__(self, name: str):
        if name in self.__slots__:  # not set yet (a copy being made): no recursion
            raise AttributeError(name)
        return getattr(self.card, name)


class _Overlay:
    """An object read through, except for the attributes given."""

    __slots__ = ("_base", "_values")

    def __init__(self, base, values: dict):
        self._base, self._values = base, values

    def __getattr__(self, name: str):
        if name in self.__slots__:
            raise AttributeError(name)
        values = self._values
        return values[name] if name in values else getattr(self._base, name)


class _Loop:
    """What the card body may read of Jinja's `loop`: the card's position, nothing of other cards."""

    __slots__ = ("index0", "index", "revindex", "revindex0", "first", "last", "length", "depth", "depth0")

    def __init__(self, index0: int, length: int):
        self.index0, self.index, self.length = index0, index0 + 1, length
        self.revindex, self.revindex0 = length - index0, length - index0 - 1
        self.first, self.last = index0 == 0, index0 == length - 1
        self.depth, self.depth0 = 1, 0


@dataclass
class CardFragments:
    """The lifted card body of one template, and how to key and splice its output."""

    template: jinja2.Template
    target: str
    uses_loop: bool
    loop_attrs: tuple[str, ...]
    free: tuple[str, ...]
    feedback_used: bool
    feedback_name: bool
    spliced: tuple[str, ...]  # feedback attributes written as {{c.fb.<attr>|url}}
    tested: tuple[str, ...]  # feedback attributes read in {% if %} tests: whether each is set joins the key
    splice_filter: object
    markup: bool
    serial: int
    token: str

    def __call__(self, cards, *free):
        """The whole loop's output: each card from the cache, this reader's links spliced in."""
        cards = list(cards)
        count = len(cards)
        out = []
        for index0, card in enumerate(cards):
            loop = _Loop(index0, count) if self.uses_loop else None
            out.append(self._card(card, loop, free))
        text = "".join(out)
        return Markup(text) if self.markup else text

    def _card(self, card, loop, free) -> str:
        fb = getattr(card, FEEDBACK, None) if self.feedback_used else None
        store = getattr(card, "fragments", None)
        key = (self.serial,
               tuple(getattr(loop, a) for a in self.loop_attrs) if loop is not None else (),
               free,
               None if fb is None else (getattr(fb, "name", None) if self.feedback_name else True,
                                        tuple(bool(getattr(fb, a, None)) for a in self.tested)))
        try:
            pieces = store.get(key) if store is not None else None
        except (TypeError, jinja2.UndefinedError):  # an outer value that cannot be a key
            store, pieces = None, None
        if pieces is None:
            pieces, reusable = self._render_pieces(card, fb, loop, free)
            if reusable and store is not None and len(store) < MAX_VARIANTS_PER_CARD:
                store[key] = pieces
        if len(pieces) == 1:
            return pieces[0]
        out = list(pieces)
        for i in range(1, len(out), 2):
            value = self.splice_filter(getattr(fb, out[i]))
            # As Jinja writes an expression: escaped unless Markup (HTML), None as "" (text).
            out[i] = escape(value) if self.markup else "" if value is None else str(value)
        return "".join(out)

    def _render_pieces(self, card, fb, loop, free) -> tuple[tuple, bool]:
        """(pieces, reusable): text pieces alternating with the feedback attributes to splice in."""
        context = dict(zip(self.free, free))
        if loop is not None:
            context["loop"] = loop
        if fb is None or not self.spliced:
            context[self.target] = card
            return (self._finish(self.template.render(context)),), True
        marks = {f"https://splice.invalid/{self.token}/{i}": attr for i, attr in enumerate(self.spliced)}
        if all(hasattr(fb, attr) for attr in self.spliced):
            # An attribute that is not set stays unset, so that the tests see what this reader has.
            probe = _Overlay(fb, {attr: mark for mark, attr in marks.items()
                                  if attr not in self.tested or getattr(fb, attr, None)})
            context[self.target] = WithFeedback(card.card if isinstance(card, WithFeedback) else card, probe)
            filtered = {str(self.splice_filter(mark)): attr for mark, attr in marks.items()}
            pattern = "|".join(map(re.escape, sorted(filtered, key=len, reverse=True)))
            parts = re.split(f"({pattern})", self.template.render(context))
            # Each placeholder must come out of the filter still carrying the token, and nowhere else.
            if len(filtered) == len(marks) and all(self.token in f for f in filtered) and \
                    not any(self.token in part for part in parts[::2]):
                if len(parts) == 1:  # the links were not shown this time
                    return (self._finish(parts[0]),), True
                return tuple(filtered[p] if i % 2 else p for i, p in enumerate(parts)), True
        # This reader's links cannot be spliced (a placeholder came out altered): render for real,
        # and keep it out of the cache, since it holds this reader's own URLs.
        context[self.target] = card
        return (self._finish(self.template.render(context)),), False

    def _finish(self, text: str):
        return Markup(text) if self.markup else text


def _parents(root: nodes.Node) -> dict[int, nodes.Node]:
    parents: dict[int, nodes.Node] = {}
    stack = [root]
    while stack:
        node = stack.pop()
        for child in node.iter_child_nodes():
            parents[id(child)] = node
            stack.append(child)
    return parents


def _card_loop(ast: nodes.Template) -> nodes.For | None:
    loops = [n for n in ast.find_all(nodes.For)
             if isinstance(n.iter, nodes.Name) and n.iter.name == LOOP_NAME]
    if len(loops) != 1:
        return None
    loop = loops[0]
    if not isinstance(loop.target, nodes.Name) or loop.else_ or loop.test is not None or loop.recursive:
        return None
    return loop


def _analyse(env: jinja2.Environment, body: nodes.Template, target: str, free_ok) -> dict | None:
    """What the body reads, or None when caching its output could change what it renders."""
    if any(True for _ in body.find_all(_REFUSED_NODES)):
        return None
    parents = _parents(body)
    # Nodes inside a condition: a feedback attribute read there only picks a branch, so the
    # key holds whether it is set ({% if c.fb.more_url %}), and the output stays cacheable.
    in_tests = {id(n) for cond in body.find_all((nodes.If, nodes.CondExpr))
                for n in (cond.test, *cond.test.find_all(nodes.Node))}
    tested: list[str] = []
    loop_attrs: set[str] = set()
    feedback_name, spliced = False, []
    feedback_refs = 0
    for name in body.find_all(nodes.Name):
        parent = parents.get(id(name))
        if name.name == target:
            if name.ctx != "load" or not isinstance(parent, nodes.Getattr):
                return None  # the card rebound, or used whole
            if parent.attr != FEEDBACK:
                continue
            feedback_refs += 1
            use = parents.get(id(parent))
            if isinstance(use, (nodes.If, nodes.CondExpr)) and use.test is parent:
                continue
            if isinstance(use, nodes.Test) and use.name in ("none", "defined", "undefined") and not use.args:
                continue
            if not isinstance(use, nodes.Getattr):
                return None
            if id(use) in in_tests and id(parent) in in_tests:
                tested.append(use.attr)
                continue
            if use.attr == "name":
                feedback_name = True
                continue
            flt = parents.get(id(use))
            out = parents.get(id(flt))
            if (isinstance(flt, nodes.Filter) and flt.name == "url" and flt.node is use and not flt.args
                    and not flt.kwargs and flt.dyn_args is None and flt.dyn_kwargs is None
                    and isinstance(out, nodes.Output)):
                spliced.append(use.attr)
                continue
            return None
        if name.name == "loop" and name.ctx == "load":
            if not isinstance(parent, nodes.Getattr) or parent.attr not in _LOOP_ATTRS:
                return None
            loop_attrs.add(parent.attr)
    for flt in body.find_all(nodes.Filter):
        if flt.name in _IMPURE_FILTERS or flt.name not in env.filters:
            return None
    undeclared = meta.find_undeclared_variables(body)
    free = sorted(undeclared - {target, "loop"})
    for call in body.find_all(nodes.Call):
        if isinstance(call.node, nodes.Name) and call.node.name not in _PURE_GLOBALS:
            return None
    if not all(free_ok(n) for n in free):
        return None
    uses_loop = "loop" in undeclared  # else every `loop` in the body is a nested loop's own
    return {"uses_loop": uses_loop, "loop_attrs": tuple(sorted(loop_attrs)) if uses_loop else (), "free": tuple(free),
            "feedback_used": feedback_refs > 0, "feedback_name": feedback_name,
            "spliced": tuple(dict.fromkeys(spliced)), "tested": tuple(dict.fromkeys(tested))}


def lift_cards(env: jinja2.Environment, source: str) -> tuple[jinja2.Template, CardFragments | None]:
    """The template for source, with its card loop lifted when that is safe; else the plain template."""
    ast = env.parse(source)
    loop = _card_loop(ast)
    if loop is None:
        return env.from_string(source), None
    target = loop.target.name
    body = nodes.Template(loop.body, lineno=1)
    body.set_environment(env)
    # Outer names are fine when they come from the render context (their values join the key) or
    # are pure globals; a global function could be anything.
    facts = _analyse(env, body, target, lambda n: n not in env.globals or n in _PURE_GLOBALS)
    if facts is None:
        return env.from_string(source), None
    fragments = CardFragments(
        template=env.from_string(body), target=target, splice_filter=env.filters["url"],
        markup=bool(env.autoescape), serial=next(_serial), token=str(secrets.randbelow(10**20)).zfill(20),
        **facts,
    )
    # The loop itself becomes one call: the cards, then the outer values the body reads.
    call = nodes.Call(nodes.Name(FRAGMENT_FUNCTION, "load"), [loop.iter, *(nodes.Name(n, "load") for n in fragments.free)],
                      [], None, None)
    output = nodes.Output([call])
    for node in output.find_all(nodes.Node):
        node.set_lineno(loop.lineno)
    output.set_lineno(loop.lineno)
    parent = _parents(ast)[id(loop)]
    for field in parent.fields:
        siblings = getattr(parent, field)
        if isinstance(siblings, list) and any(n is loop for n in siblings):
            siblings[[id(n) for n in siblings].index(id(loop))] = output
    ast.set_environment(env)
    return env.from_string(ast, globals={FRAGMENT_FUNCTION: fragments}), fragments
