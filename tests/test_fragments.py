"""Card fragments: a lifted card loop renders exactly what the plain template renders, for every reader."""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

import jinja2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import digest.render as render_mod
import digest.render.compiler as compiler_mod
import digest.render.fragments as fragments_mod
from digest.render.fragments import MAX_VARIANTS_PER_CARD, lift_cards
from digest.render import Renderer

from render_helpers import TEMPLATES, choice, hostile_issue, issue, links


def _env(*, html: bool = True, url=None, loader=None) -> jinja2.Environment:
    env = compiler_mod._environment(loader, html=html)
    if url is not None:
        env.filters["url"] = url
    return env


def _card(title: str, fb=None) -> SimpleNamespace:
    return SimpleNamespace(t=title, n=len(title) % 3, fb=fb, fragments={})


def _fb(name: str, i: int):
    return SimpleNamespace(name=name, more_url=f"https://x.example/fb/more/{i}?a=1&b='2'",
                           less_url=f"https://x.example/fb/less/{i}")


def _with_fb(card, fb):
    # What Renderer.prepare does: a per-reader copy that shares the card's fragment store.
    return SimpleNamespace(**{**vars(card), "fb": fb})


def _assert_same(env, source, contexts, *, lifted: bool):
    template, fragments = lift_cards(env, source)
    assert (fragments is not None) is lifted
    plain = env.from_string(source)
    for ctx in contexts:
        assert template.render(ctx) == plain.render(ctx)


BASE = [_card("<b>One</b> & {{ 7*7 }}"), _card("Two"), _card("שלום 🚀")]


def _readers():
    """Readers over the same three cards: other orders, names, links, and one without links."""
    out = []
    for r, order in enumerate([(0, 1, 2), (2, 0, 1), (1, 2), (0, 1, 2), (2, 1, 0)]):
        name = ["xAI", '<b>"A&B"</b>', "xAI", "Meta", "OpenAI"][r]
        cards = [BASE[i] if r == 3 else _with_fb(BASE[i], _fb(name, r * 10 + i)) for i in order]
        out.append({"cards": cards, "greeting": f"Hi {r} <you>", "rule": "-" * (r + 1), "items": [r]})
    return out


LIFTED = {
    "plain": "{% for c in cards %}<p>{{c.t}}</p>{% endfor %}",
    "loop position": "{%- for c in cards %}\n{{loop.index}}/{{loop.length}}. {{c.t}}{% if loop.last %}!{% endif %}\n{%- endfor %}",
    "outer values": "{% for c in cards %}{{greeting}} {{rule}} {{c.t}}{% endfor %}",
    "set inside": "{% for c in cards %}{% set pad = ' ' * (loop.index|string|length) %}[{{pad}}{{c.t}}]{% endfor %}",
    "nested loop": "{% for c in cards %}{% for x in range(c.n) %}{{loop.index}}{{c.t}}{% endfor %}{% endfor %}",
    "feedback": ('{% for c in cards %}<h2>{{c.t}}</h2>{% if c.fb %}<a href="{{c.fb.more_url|url}}">More on '
                 '{{c.fb.name}}</a> <a href="{{c.fb.less_url|url}}">Less</a>{% endif %}{% endfor %}'),
    "feedback twice": ('{% for c in cards %}{% if c.fb is not none %}{{c.fb.more_url|url}} {{c.fb.more_url|url}}'
                       '{% endif %}{% endfor %}'),
}

REFUSED = {
    "feedback url unfiltered": "{% for c in cards %}{% if c.fb %}{{c.fb.more_url}}{% endif %}{% endfor %}",
    "feedback url filtered again": "{% for c in cards %}{% if c.fb %}{{c.fb.more_url|url|upper}}{% endif %}{% endfor %}",
    "feedback whole": "{% for c in cards %}{{c.fb}}{% endfor %}",
    "card whole": "{% for c in cards %}{{c|string}}{% endfor %}",
    "card rebound": "{% for c in cards %}{% set c = c.t %}{{c}}{% endfor %}",
    "other cards": "{% for c in cards %}{% if loop.previtem is defined %}{{loop.previtem.t}}{% endif %}{{c.t}}{% endfor %}",
    "loop cycle": "{% for c in cards %}{{loop.cycle('a', 'b')}}{{c.t}}{% endfor %}",
    "random": "{% for c in cards %}{{[c.t, 'x']|random}}{% endfor %}",
    "impure global": "{% for c in cards %}{{c.t}}{{lipsum(1)}}{% endfor %}",
    "two card loops": "{% for c in cards %}{{c.t}}{% endfor %}{% for c in cards %}{{c.n}}{% endfor %}",
    "loop with else": "{% for c in cards %}{{c.t}}{% else %}none{% endfor %}",
    "filtered loop": "{% for c in cards if c.n %}{{c.t}}{% endfor %}",
}


@pytest.mark.parametrize("name", sorted(LIFTED))
@pytest.mark.parametrize("html", [True, False], ids=["html", "text"])
def test_a_lifted_card_loop_renders_what_the_plain_template_renders_for_every_reader(name, html):
    readers = _readers()
    # Twice over: the second round reads every card from the cache.
    _assert_same(_env(html=html), LIFTED[name], readers + readers, lifted=True)


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_a_card_loop_that_reads_what_the_key_cannot_hold_is_not_lifted(name):
    if name in ("random", "impure global"):
        _, fragments = lift_cards(_env(), REFUSED[name])
        assert fragments is None
        return
    _assert_same(_env(), REFUSED[name], _readers(), lifted=False)


def test_an_include_in_the_card_loop_is_not_lifted():
    env = _env(loader=jinja2.DictLoader({"x": "{{greeting}}"}))
    _assert_same(env, '{% for c in cards %}{% include "x" %}{{c.t}}{% endfor %}', _readers(), lifted=False)


def test_each_card_renders_once_per_variant_then_only_the_links_are_spliced(monkeypatch):
    calls = []
    real = fragments_mod.CardFragments._render_pieces
    monkeypatch.setattr(fragments_mod.CardFragments, "_render_pieces",
                        lambda self, *a: calls.append(1) or real(self, *a))
    env = _env()
    template, _ = lift_cards(env, LIFTED["feedback"])
    plain = env.from_string(LIFTED["feedback"])
    cards = [_card(f"t{i}") for i in range(3)]
    for reader in range(40):
        ctx = {"cards": [_with_fb(c, _fb("xAI", reader * 3 + i)) for i, c in enumerate(cards)]}
        out = template.render(ctx)
        assert out == plain.render(ctx)
        assert f"/fb/more/{reader * 3}?a=1&amp;b=" in out
    assert len(calls) == 3  # one render per card; 117 renders only spliced their links in


def test_a_link_that_cannot_be_spliced_is_rendered_for_real_and_never_cached():
    # A |url filter that writes every URL the same way: the placeholders cannot be told apart.
    env = _env(url=lambda v: jinja2.filters.Markup("#" if "more" in str(v) else "#less"))
    template, fragments = lift_cards(env, LIFTED["feedback"])
    assert fragments is not None
    plain = env.from_string(LIFTED["feedback"])
    card = _card("t #hash")
    for reader in range(3):
        ctx = {"cards": [_with_fb(card, _fb(f"xAI {reader}", reader))]}
        assert template.render(ctx) == plain.render(ctx)
    assert card.fragments == {}


def test_a_url_filter_that_rewrites_urls_is_applied_to_each_reader_s_own():
    env = _env(url=lambda v: jinja2.filters.Markup(str(v).upper()))
    template, _ = lift_cards(env, LIFTED["feedback"])
    card = _card("t")
    for reader in range(3):
        ctx = {"cards": [_with_fb(card, _fb("xAI", reader))]}
        assert template.render(ctx) == env.from_string(LIFTED["feedback"]).render(ctx)
        assert f"/FB/MORE/{reader}?" in template.render(ctx)
    assert len(card.fragments) == 1


def test_outer_values_that_cannot_be_keys_still_render_correctly():
    env = _env()
    source = "{% for c in cards %}{{items|join(',')}} {{c.t}}{% endfor %}"
    _assert_same(env, source, _readers(), lifted=True)


def test_a_card_keeps_a_bounded_number_of_variants():
    env = _env()
    template, _ = lift_cards(env, LIFTED["feedback"])
    plain = env.from_string(LIFTED["feedback"])
    card = _card("t")
    for i in range(MAX_VARIANTS_PER_CARD + 10):
        ctx = {"cards": [_with_fb(card, _fb(f"name {i}", i))]}
        assert template.render(ctx) == plain.render(ctx)
    assert len(card.fragments) == MAX_VARIANTS_PER_CARD


def test_cards_without_a_fragment_store_render_uncached():
    env = _env()
    template, _ = lift_cards(env, LIFTED["feedback"])
    ctx = {"cards": [SimpleNamespace(t="a", fb=_fb("x", 1)), SimpleNamespace(t="b", fb=None)]}
    assert template.render(ctx) == env.from_string(LIFTED["feedback"]).render(ctx)


_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)


@settings(max_examples=60, deadline=None)
@given(titles=st.lists(_text, min_size=1, max_size=4), names=st.lists(_text, min_size=2, max_size=2),
       urls=st.lists(_text, min_size=4, max_size=4))
def test_lifted_equals_plain_for_any_titles_names_and_links(titles, names, urls):
    env = _env()
    template, _ = lift_cards(env, LIFTED["feedback"])
    plain = env.from_string(LIFTED["feedback"])
    cards = [_card(t) for t in titles]
    for r, name in enumerate(names):
        fb = SimpleNamespace(name=name, more_url="https://e.example/" + urls[2 * r], less_url=urls[2 * r + 1])
        ctx = {"cards": [_with_fb(c, fb) for c in cards]}
        assert template.render(ctx) == plain.render(ctx)


# -- the real templates


def test_the_real_templates_lift_both_card_loops():
    compiled = render_mod.compile_templates(TEMPLATES)
    assert lift_cards(compiler_mod._environment(html=True), compiled.html_source)[1] is not None
    text_env = compiler_mod._environment(jinja2.FileSystemLoader(str(TEMPLATES)), html=False)
    assert lift_cards(text_env, compiled.text_source)[1] is not None


def _feedback(the_issue, name, reader, *, more=True):
    fb = {c.article.id: {"more": {"kind": "company", "name": name,
                                  "url": f"https://x.example/feedback/{reader}-m{i}?a=1&b='2'"} if more else None,
                         "less": {"kind": "tag", "name": "t", "url": f"https://x.example/feedback/{reader}-l{i}"}}
          for i, c in enumerate(the_issue.choices)}
    return replace(links(f"tok{reader}"), feedback=fb)


@pytest.mark.parametrize("make", [lambda: issue(8), lambda: hostile_issue(9)], ids=["eight", "hostile"])
def test_readers_sharing_cards_each_get_their_own_links_and_the_naive_path_s_bytes(make):
    renderer = Renderer(TEMPLATES)
    the_issue = make()
    readers = [_feedback(the_issue, "xAI", 1), _feedback(the_issue, '<b>"A&B"</b>', 2), links("tok3"),
               _feedback(the_issue, "xAI", 4), _feedback(the_issue, "xAI", 5, more=False)]
    for the_links in readers + readers[::-1]:
        compiled = renderer.render(the_issue, the_links)
        naive = renderer.render_naive(the_issue, the_links)
        assert compiled.html == naive.html
        assert compiled.text == naive.text
    for reader, the_links in ((1, readers[0]), (2, readers[1]), (4, readers[3])):
        html = renderer.render(the_issue, the_links).html
        assert html.count(f"https://x.example/feedback/{reader}-m") == len(the_issue.choices)
        assert all(f"feedback/{other}-" not in html for other in {1, 2, 4, 5} - {reader})
    # A reader offered only "Less of this" gets no "More on" link and no dangling separator.
    html = renderer.render(the_issue, readers[4]).html
    assert html.count("https://x.example/feedback/5-l") == len(the_issue.choices)
    assert "More on" not in html and "5-m" not in html and "Tune your digest: <a" in html


def test_a_url_filter_returning_plain_strings_is_escaped_as_jinja_would():
    env = _env(url=lambda v: str(v))  # no Markup: Jinja's autoescape escapes the & and '
    template, _ = lift_cards(env, LIFTED["feedback"])
    card = _card("t")
    for reader in range(2):
        ctx = {"cards": [_with_fb(card, _fb("xAI", reader))]}
        assert template.render(ctx) == env.from_string(LIFTED["feedback"]).render(ctx)
        assert "?a=1&amp;b=&#39;2&#39;" in template.render(ctx)


@pytest.mark.parametrize("body", [
    "{% set x %}{{c.fb.more_url|url}}{% endset %}{{x|length}}",
    "{% filter upper %}{{c.fb.more_url|url}}{% endfilter %}",
])
def test_links_captured_or_transformed_as_a_block_are_not_lifted(body):
    source = "{% for c in cards %}{% if c.fb %}" + body + "{% endif %}{% endfor %}"
    _assert_same(_env(), source, _readers(), lifted=False)


def test_a_card_with_feedback_can_be_copied():
    import copy

    card = render_mod.WithFeedback(_card("t"), _fb("xAI", 1))
    assert copy.copy(card).t == "t"


def test_renderers_of_the_same_templates_share_the_rendered_cards(monkeypatch):
    calls = []
    real = fragments_mod.CardFragments._render_pieces
    monkeypatch.setattr(fragments_mod.CardFragments, "_render_pieces",
                        lambda self, *a: calls.append(1) or real(self, *a))
    the_issue = issue(choices=tuple(choice(i, title=f"A card no other test renders {i}") for i in range(5)))
    first = Renderer(TEMPLATES).render(the_issue, _feedback(the_issue, "xAI", 7))
    rendered_once = len(calls)
    assert rendered_once == 10  # five cards, each in both parts
    second = Renderer(TEMPLATES).render(the_issue, _feedback(the_issue, "xAI", 8))
    assert len(calls) == rendered_once  # a worker's second renderer (or the web app's) reuses them
    assert second.html == first.html.replace("/feedback/7-", "/feedback/8-").replace("tok7", "tok8")
