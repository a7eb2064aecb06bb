"""One selection and one render per group of readers who would get the same digest; each reader's
own parts are stamped into a copy.

Readers with the same follows, preferences, history and slot get the same selection and the same
render, except for their personal parts: the first name in the greeting, their address in the
footer and the signed tokens in their links (unsubscribe, preferences, web version, each card's
feedback links). The group's render is made once for a stand-in reader whose personal parts are
unique sentinels (`zq<nonce><nnn>qz`, letters and digits only, so no escaping or URL quoting
changes them). Each reader's copy replaces every sentinel with the reader's own value, written as
that part writes it: HTML-escaped in the HTML part, raw in the text part, the subject and the
preheader. Tokens are URL-safe as they are, so they go into links unchanged.

The parts are stamped as they go into the message, too. Each part of the group's render is cut
into runs of whole lines (`Lines`): the runs without a sentinel are encoded (quoted-printable) and
put through DKIM's relaxed canonicalization once for the group; a reader's copy encodes only the
few lines that hold their parts (about a tenth of the HTML: the compiled templates break lines
inside tags) and hands the builder the parts ready (`Rendered.encoded`). Both encodings and the
canonicalization work line by line, so these are the bytes the builder would write from the
reader's whole text and HTML (digest/message.py).

A stamped copy is byte for byte the reader's own render (tests/test_stamp.py proves it, both parts
and the whole message, over many readers). Where a plain replacement could differ, the reader is
rendered on their own instead: a first name the text part would wrap or whose spacing it would fold,
a token with characters a URL filter would quote, links shaped unlike the group's, and a render the
size guard cut or a stamped copy over its size limit.

`group_key` is the one place that says which inputs the selection and the render read.
"""

from __future__ import annotations

import dataclasses
import re
import threading
import uuid
from collections import OrderedDict

from .dkim import canonical_lines
from .message import part_lines
from .render.filters import clean, escape_html
from .render.view import first_name
from .schedule import Slot
from .selection import Selection
from .types import EncodedParts, Issue, Links, Reader, Rendered

# Every Reader field is in exactly one of these (tests/test_stamp.py checks it, so a new field
# must be placed): the fields the selection or the render read, which a group shares ...
GROUP_FIELDS = ("timezone", "frequency", "max_articles", "min_significance", "reading_budget", "companies",
                "segments", "muted", "language")
# ... the reader's own, stamped in or used by the message alone ...
PERSONAL_FIELDS = ("id", "email", "name", "smtputf8")
# ... and the schedule, which reaches the selection and the render only through the slot (in the key).
SCHEDULE_FIELDS = ("send_day", "send_hour")

# A first name longer than this is rendered on its own: the text part wraps the greeting line at
# 78 columns, and 30 characters of double-width script still fit next to any greeting.
MAX_STAMPED_NAME = 30
_URL_SAFE = re.compile(r"[A-Za-z0-9_.\-]+")
NAME, EMAIL, FIRST_TOKEN = 0, 1, 2


def group_key(reader: Reader, slot: Slot, history, *, template_key: str, editorial=None) -> tuple:
    """Every input of the selection and the render except the reader's personal parts: readers with
    equal keys get the same digest. A new input of either must be added here, or through GROUP_FIELDS.
    The language is a reader field; the editor's controls reach a reader through their follows (in the
    key) and the controls in force (`editorial`: their version, so a control added later starts new
    groups)."""
    received_ids, received_urls, watermark = history
    return (
        slot.period, slot.scheduled_for,                   # the slot: the window and the labels
        *(getattr(reader, name) for name in GROUP_FIELDS),  # follows, mutes and preferences
        received_ids, received_urls, watermark,             # what the reader already received
        bool(first_name(reader.name)),                      # "Hi Ana," or "Hi,"
        template_key,                                       # the compiled templates
        editorial,                                          # the editor's notes, pins and pulls
    )


class Sentinels:
    """Unique stand-in values for one group: sentinel(i) and the pattern that finds them all."""

    def __init__(self):
        self.nonce = uuid.uuid4().hex[:12]
        self.pattern = re.compile(f"zq{self.nonce}(\\d{{3}})qz")

    def __call__(self, index: int) -> str:
        return f"zq{self.nonce}{index:03d}qz"


def masked_links(links: Links, sentinel: Sentinels) -> tuple[Links, list[str]] | None:
    """`links` with each token (the last path segment of each URL) replaced by a sentinel, in a
    fixed order, and the tokens in that order; None when a token is not URL-safe as it is."""
    tokens: list[str] = []

    def mask(url: str) -> str:
        prefix, _, token = url.rpartition("/")
        if not _URL_SAFE.fullmatch(token):
            raise ValueError(token)
        tokens.append(token)
        return f"{prefix}/{sentinel(FIRST_TOKEN + len(tokens) - 1)}"

    try:
        unsubscribe, preferences, web_version = mask(links.unsubscribe), mask(links.preferences), mask(links.web_version)
        feedback = {}
        for article_id, card in links.feedback.items():
            feedback[article_id] = {d: (dict(link, url=mask(link["url"])) if link else link) for d, link in card.items()}
    except ValueError:
        return None
    return Links(unsubscribe=unsubscribe, preferences=preferences, web_version=web_version, base=links.base,
                 feedback=feedback), tokens


class Lines:
    """One part of a group's render (HTML or text) as runs of whole lines: the runs that hold no
    sentinel encoded and canonicalized once, those that do kept as text to fill in per reader.

    A reader's runs are filled, encoded and canonicalized in one go, joined by a line of their own
    (`mark`, which no encoding or canonicalization changes), then cut apart again at that line."""

    def __init__(self, source: str, sentinel: "Sentinels", kind: str):
        self.kind = kind  # part_lines' kind: "text" or "html"
        pattern = sentinel.pattern
        runs: list[tuple[bool, list[str]]] = []
        for line in source.split("\n"):
            personal = pattern.search(line) is not None
            if runs and runs[-1][0] == personal:
                runs[-1][1].append(line)
            else:
                runs.append((personal, [line]))
        self.texts: list[str | None] = []  # per run: the text, None where a reader's is filled in
        self.data: list[bytes | None] = []  # the encoded run
        self.canonical: list[bytes | None] = []  # and its DKIM canonical lines
        self.personal: list[int] = []  # the indexes of the runs with sentinels
        personal_texts = []
        self.fixed_size = len(runs) - 1  # UTF-8 bytes of the fixed runs and the line breaks between runs
        for index, (personal, lines) in enumerate(runs):
            text = "\n".join(lines)
            if personal:
                self.personal.append(index)
                personal_texts.append(text)
                self.texts.append(None)
                self.data.append(None)
                self.canonical.append(None)
                continue
            data = part_lines(kind, text)
            if data is None:
                raise ValueError("these lines need the encoder of the whole part")
            self.texts.append(text)
            self.data.append(data)
            self.canonical.append(_canonical(data))
            self.fixed_size += len(text.encode("utf-8"))
        mark = f"zq{sentinel.nonce}markqz"  # letters and digits: every step leaves it as it is
        self.mark, self.mark_bytes = f"\n{mark}\n", f"\r\n{mark}\r\n".encode("ascii")
        # The runs with sentinels joined by the mark, cut at the sentinels: text, sentinel number, text, ...
        self.template: list = pattern.split(self.mark.join(personal_texts))
        self.slots = [(i, int(self.template[i])) for i in range(1, len(self.template), 2)]

    def fill(self, values: list[str]) -> tuple[str, int, bytes, bytes] | None:
        """(text, its UTF-8 size, encoded bytes, canonical lines) with values[n] in place of sentinel
        n; None when a reader's lines need the encoder of the whole part."""
        texts, data, canonical = self.texts[:], self.data[:], self.canonical[:]
        if self.personal:
            filled = self.template[:]
            for position, number in self.slots:
                filled[position] = values[number]
            joined = "".join(filled)
            encoded = part_lines(self.kind, joined)
            if encoded is None:
                return None
            filled = joined.split(self.mark)
            pieces = encoded.split(self.mark_bytes)
            lines = _canonical(encoded).split(self.mark_bytes)
            if not len(filled) == len(pieces) == len(lines) == len(self.personal):
                return None  # a reader's value held the mark: never, but then the whole part is encoded
            for index, text, piece, line in zip(self.personal, filled, pieces, lines):
                texts[index], data[index], canonical[index] = text, piece, line
            size = self.fixed_size + len(joined.encode("utf-8")) - len(self.mark) * (len(filled) - 1)
        else:
            size = self.fixed_size
        return "\n".join(texts), size, b"\r\n".join(data), b"\r\n".join(canonical)


def _canonical(data: bytes) -> bytes:
    # A run is always followed by a line break in the message (the next run, or the delimiter after
    # the part), which is where a space at its end would be dropped.
    return canonical_lines(data + b"\r\n")[:-2]


def plan_parts(rendered: Rendered, sentinel: "Sentinels") -> tuple[Lines, Lines] | None:
    """The group's text and HTML as Lines, or None when a part cannot be built from runs (a CR in
    either, HTML that needs the general encoder): its readers' parts are then encoded whole."""
    if "\r" in rendered.text or "\r" in rendered.html:
        return None
    try:
        return Lines(rendered.text, sentinel, "text"), Lines(rendered.html, sentinel, "html")
    except ValueError:
        return None


@dataclasses.dataclass
class Group:
    """One group's shared work: the selection, the issue and the render of the stand-in reader."""

    selection: Selection
    issue: Issue
    rendered: Rendered | None  # None: nothing to send (no choices and no quiet-week note)
    sentinel: Sentinels
    links: Links | None = None  # the stand-in's links (tokens masked); None: no shared render
    max_html_bytes: int = 0
    targets: dict | None = None  # article id -> feedback_targets, the same for every reader of the group
    parts: tuple[Lines, Lines] | None = None  # the render's text and HTML as Lines (plan_parts)
    stamped: int = 0  # copies stamped so far: the Lines are made for a group's second reader

    @property
    def shared(self) -> bool:
        return self.links is not None

    def stand_in(self, reader: Reader) -> Reader:
        """The reader with personal parts replaced by sentinels, for the group's one render."""
        return dataclasses.replace(reader, name=self.sentinel(NAME) if first_name(reader.name) else "",
                                   email=self.sentinel(EMAIL))

    def stamp(self, reader: Reader, links: Links) -> Rendered | None:
        """This reader's render: the group's with their own parts in, or None (render on their own)."""
        masked = masked_links(links, self.sentinel)
        name = first_name(reader.name)
        if masked is None or masked[0] != self.links or len(name) > MAX_STAMPED_NAME or (name and name.split() != [name]):
            return None
        email = clean(reader.email)
        raw = [name, email, *masked[1]]
        escaped = [str(escape_html(name)), str(escape_html(email)), *masked[1]]
        pattern = self.sentinel.pattern
        template = self.rendered
        subject = pattern.sub(lambda m: raw[int(m.group(1))], template.subject)
        preheader = pattern.sub(lambda m: raw[int(m.group(1))], template.preheader)
        self.stamped += 1
        if self.stamped == 2:
            # Cutting the render into encoded runs costs about one whole encoding of it: worth it
            # only for a group with more than one reader (most readers are in small groups when
            # follows vary widely), so the first copy is encoded whole.
            self.parts = plan_parts(template, self.sentinel)
        if self.parts is not None and not any("\r" in value or "\n" in value for value in raw):
            text_lines, html_lines = self.parts
            html, text = html_lines.fill(escaped), text_lines.fill(raw)
            if html is not None and text is not None:
                if html[1] > self.max_html_bytes:
                    return None  # the size guard would have cut this reader's copy: render it on its own
                encoded = EncodedParts(text=text[2], text_canonical=text[3], html=html[2], html_canonical=html[3])
                return dataclasses.replace(template, html=html[0], text=text[0], subject=subject,
                                           preheader=preheader, encoded=encoded)
        html = pattern.sub(lambda m: escaped[int(m.group(1))], template.html)
        if len(html.encode("utf-8")) > self.max_html_bytes:
            return None  # the size guard would have cut this reader's copy: render it on its own
        text = pattern.sub(lambda m: raw[int(m.group(1))], template.text)
        return dataclasses.replace(template, html=html, text=text, subject=subject, preheader=preheader)


class Groups:
    """The groups of one process, least recently used first out (a group holds one render)."""

    def __init__(self, size: int = 128):
        self.size = size
        self._groups: OrderedDict[tuple, Group] = OrderedDict()
        self._lock = threading.Lock()  # the inline executor's lanes share one pipeline
        self.hits = self.misses = 0

    def get(self, key: tuple) -> Group | None:
        with self._lock:
            group = self._groups.get(key)
            if group is None:
                self.misses += 1
                return None
            self.hits += 1
            self._groups.move_to_end(key)
            return group

    def put(self, key: tuple, group: Group) -> Group:
        with self._lock:
            self._groups[key] = group
            while len(self._groups) > self.size:
                self._groups.popitem(last=False)
        return group

    def clear(self) -> None:
        with self._lock:
            self._groups.clear()
