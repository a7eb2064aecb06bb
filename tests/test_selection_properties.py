"""Properties of selection over generated weeks: every rule checked against a small independent oracle."""

from __future__ import annotations

import random
from datetime import timedelta

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from digest.selection import Selection, SelectionOptions, join_names, prepare, select, window
from selection_helpers import END, art, reader

COMPANIES = ["xAI", "OpenAI", "Anthropic", "Tomoro", "바이트댄스"]
SEGMENTS = ["Foundation Models · Case Studies", "Foundation Models · Open Debates", "Data & IP", "Chips · Supply"]
PARENTS = ["Foundation Models", "Chips"]

FAST = settings(max_examples=75, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def worlds(draw, related=True, max_articles=30, span_days=20):
    n = draw(st.integers(0, max_articles))
    articles = []
    for i in range(1, n + 1):
        links = draw(st.lists(st.integers(1, max(n, 1)), max_size=3)) if related else []
        articles.append(art(
            i,
            companies=draw(st.lists(st.sampled_from(COMPANIES), max_size=3, unique=True)),
            segments=draw(st.lists(st.sampled_from(SEGMENTS), max_size=2, unique=True)),
            novelty=draw(st.integers(1, 3)),
            significance=draw(st.integers(1, 3)),
            age=timedelta(hours=draw(st.integers(-12, span_days * 24))),  # a few from after the end
            minutes=draw(st.integers(1, 8)),
            related=[j for j in links if j != i],
        ))
    return articles


@st.composite
def readers(draw, budget=True):
    return reader(
        draw(st.lists(st.sampled_from(COMPANIES), max_size=3, unique=True)),
        draw(st.lists(st.sampled_from(SEGMENTS + PARENTS), max_size=2, unique=True)),
        max_articles=draw(st.integers(1, 10)),
        min_significance=draw(st.integers(1, 3)),
        reading_budget=draw(st.one_of(st.none(), st.integers(1, 20))) if budget else None,
    )


options_st = st.builds(SelectionOptions, max_per_company=st.integers(1, 4),
                       weight_novelty=st.sampled_from([1.0, 0.5, 2.0]), weight_significance=st.sampled_from([2.0, 1.0, 3.0]))
watermarks = st.one_of(st.none(), st.integers(0, 15 * 24).map(lambda h: END - timedelta(hours=h)))


# -- the oracle: the rules written the plain way --------------------------------------------------


def follows_matched(article, who) -> list[str]:
    """The followed names an article matches, in reason order."""
    out = [c for c in article.companies if c in who.companies]
    for segment in article.segments:
        parts = segment.split(" · ")
        out += [name for name in (" · ".join(parts[: i + 1]) for i in range(len(parts))) if name in who.segments]
    return list(dict.fromkeys(out))


def qualifying(articles, who, start, end, received=frozenset()):
    return [a for a in articles if start <= a.published_at < end and a.significance >= who.min_significance
            and a.id not in received and follows_matched(a, who)]


def key(a, options):
    return (-(options.weight_significance * a.significance + options.weight_novelty * a.novelty),
            -a.published_at.timestamp(), a.url)


def shown(result: Selection):
    return [c.article for c in result.choices] + [a for c in result.choices for a in c.connected]


# -- properties --------------------------------------------------------------------------------


@FAST
@given(worlds(), readers(), watermarks, options_st, st.sets(st.integers(1, 30), max_size=6))
def test_every_choice_is_new_matches_a_follow_lies_in_the_window_and_is_named(articles, who, mark, options, received):
    result = select(articles, who, end=END, watermark=mark, received_ids=frozenset(received), options=options)
    start, end = window(END, mark, options)
    allowed = {a.id for a in qualifying(articles, who, start, end, received)}
    for c in result.choices:
        assert c.article.id in allowed
        names = follows_matched(c.article, who)
        assert c.reasons == (("You follow " + join_names(names),) if names else ())
        assert c.rating == options.weight_significance * c.article.significance + options.weight_novelty * c.article.novelty
        assert all(a.id in allowed for a in c.connected)
    seen = [a.id for a in shown(result)]
    assert len(seen) == len(set(seen)), "an article shows up twice in one digest"
    assert result.more_count == len(allowed) - len(seen)
    assert (result.skip_reason is None) == bool(result.choices)


@FAST
@given(worlds(), readers(), watermarks, options_st)
def test_order_follows_the_rating_and_the_limits_hold(articles, who, mark, options):
    result = select(articles, who, end=END, watermark=mark, options=options)
    keys = [key(c.article, options) for c in result.choices]
    assert keys == sorted(keys)
    assert len(result.choices) <= who.max_articles
    if who.reading_budget:
        assert sum(c.article.read_minutes for c in result.choices) <= who.reading_budget
    for c in result.choices:
        stamps = [a.published_at for a in c.connected]
        assert stamps == sorted(stamps, reverse=True)


@FAST
@given(worlds(), readers(), watermarks, options_st)
def test_the_company_cap_gives_way_only_when_no_other_company_is_left_out(articles, who, mark, options):
    result = select(articles, who, end=END, watermark=mark, options=options)
    counts: dict[str, int] = {}
    for c in result.choices:
        if c.article.companies:
            counts[c.article.companies[0]] = counts.get(c.article.companies[0], 0) + 1
    if any(n > options.max_per_company for n in counts.values()):
        start, end = window(END, mark, options)
        on_show = {a.id for a in shown(result)}
        for a in qualifying(articles, who, start, end):
            if a.id not in on_show:
                assert a.companies and counts.get(a.companies[0], 0) >= options.max_per_company


@FAST
@given(worlds(), readers(budget=False), watermarks, options_st)
def test_without_a_budget_every_follow_with_a_qualifying_article_is_covered_unless_the_digest_is_full(
        articles, who, mark, options):
    options = SelectionOptions(max_per_company=who.max_articles, weight_novelty=options.weight_novelty,
                               weight_significance=options.weight_significance)  # a cap that never binds
    result = select(articles, who, end=END, watermark=mark, options=options)
    start, end = window(END, mark, options)
    covered = {name for a in shown(result) for name in follows_matched(a, who)}
    wanted = {name for a in qualifying(articles, who, start, end) for name in follows_matched(a, who)}
    if len(result.choices) < who.max_articles:
        assert wanted <= covered
    else:
        assert len(covered & wanted) >= min(len(wanted), who.max_articles)


@FAST
@given(worlds(related=False), readers(), watermarks, options_st)
def test_a_follow_is_left_uncovered_only_when_the_digest_is_full_or_none_of_its_articles_fits(
        articles, who, mark, options):
    # Without stories an article is its own story, so "fits" is plain: its read time within what the
    # budget has left, and its primary company below the cap.
    result = select(articles, who, end=END, watermark=mark, options=options)
    start, end = window(END, mark, options)
    chosen = [c.article for c in result.choices]
    covered = {name for a in chosen for name in follows_matched(a, who)}
    used = sum(a.read_minutes for a in chosen)
    per_company: dict[str, int] = {}
    for a in chosen:
        if a.companies:
            per_company[a.companies[0]] = per_company.get(a.companies[0], 0) + 1
    if len(chosen) == who.max_articles:
        return
    for a in qualifying(articles, who, start, end):
        for name in follows_matched(a, who):
            if name not in covered:
                over_budget = who.reading_budget is not None and used + a.read_minutes > who.reading_budget
                capped = bool(a.companies) and per_company.get(a.companies[0], 0) >= options.max_per_company
                assert over_budget or capped, f"{name} left out though article {a.id} fits"


def reference(articles, who, start, end, options):
    """Coverage then fill, for worlds without stories, budget or binding cap."""
    pool = sorted(qualifying(articles, who, start, end), key=lambda a: key(a, options))
    chosen, covered = [], set()
    for a in pool:
        if len(chosen) < who.max_articles and not set(follows_matched(a, who)) <= covered:
            chosen.append(a)
            covered |= set(follows_matched(a, who))
    for a in pool:
        if len(chosen) < who.max_articles and a not in chosen:
            chosen.append(a)
    return sorted(chosen, key=lambda a: key(a, options))


@FAST
@given(worlds(related=False), readers(budget=False), watermarks)
def test_coverage_then_rating_matches_the_plain_reference(articles, who, mark):
    options = SelectionOptions(max_per_company=10)
    result = select(articles, who, end=END, watermark=mark, options=options)
    start, end = window(END, mark, options)
    assert [c.article.id for c in result.choices] == [a.id for a in reference(articles, who, start, end, options)]


@FAST
@given(worlds(), readers(), options_st, st.lists(st.booleans(), min_size=4, max_size=4), st.booleans())
def test_nothing_repeats_across_consecutive_weeks(articles, who, options, delivered, use_watermark):
    selector = prepare(articles, options)
    received: set[int] = set()
    mark = None
    for week, ok in zip((3, 2, 1, 0), delivered):
        end = END - timedelta(days=7 * week)
        watermark = mark if use_watermark else None
        result = selector.select(who, end=end, watermark=watermark, received_ids=frozenset(received))
        chosen = {c.article.id for c in result.choices}
        start, _ = window(end, watermark, options)
        new = qualifying(articles, who, start, end, frozenset(received))
        # What is chosen is new, and something is chosen whenever a new story fits.
        assert chosen <= {a.id for a in new}
        assert bool(chosen) == any_story_fits(new, who, options)
        if ok and chosen:  # a failed or bounced week records nothing and keeps the watermark
            received |= chosen
            mark = end


@FAST
@given(worlds(), readers(), watermarks, options_st, st.randoms(use_true_random=False))
def test_the_same_input_in_any_order_gives_the_same_output_byte_for_byte(articles, who, mark, options, rnd):
    first = repr(select(articles, who, end=END, watermark=mark, options=options))
    shuffled = list(articles)
    rnd.shuffle(shuffled)
    assert repr(select(shuffled, who, end=END, watermark=mark, options=options)) == first


@FAST
@given(worlds(), readers(), watermarks, options_st)
def test_an_empty_week_sends_nothing_and_gives_the_reason(articles, who, mark, options):
    start, end = window(END, mark, options)
    result = select(articles, who, end=END, watermark=mark, options=options)
    found = qualifying(articles, who, start, end)
    if not who.companies and not who.segments:
        assert (result.choices, result.skip_reason) == ((), "you do not follow any company or segment yet")
    elif not found:
        span = f"in the last {options.lookback_days} days" if end - start >= timedelta(days=options.lookback_days) \
            else "since your last digest"
        fresh = [a for a in articles if start <= a.published_at < end and follows_matched(a, who)]
        reason = (f"no new article about what you follow {span} reached your minimum significance of "
                  f"{who.min_significance}" if fresh else f"no new articles about what you follow {span}")
        assert (result.choices, result.skip_reason, result.more_count) == ((), reason, 0)
    else:
        fits = any_story_fits(found, who, options)
        assert bool(result.choices) == fits
        if not fits:
            unit = "minute" if who.reading_budget == 1 else "minutes"
            assert result.skip_reason == (f"no article about what you follow fits your reading budget of "
                                          f"{who.reading_budget} {unit}")
            assert result.more_count == len(found)


def stories(articles, options):
    """The stories the plain way: in rank order, an article heads its own story unless a better
    related article heads one; it then joins the best such head. Returns (ranked, heads, head_of)."""
    ranked = sorted(articles, key=lambda a: key(a, options))
    rank = {a.url: i for i, a in enumerate(ranked)}
    related = [set() for _ in ranked]
    for i, a in enumerate(ranked):
        for link in a.related:
            if link in rank and rank[link] != i:
                related[i].add(rank[link])
                related[rank[link]].add(i)
    heads, head_of = [], {}
    for i in range(len(ranked)):
        better_heads = sorted(m for m in related[i] if m < i and head_of.get(m) == m)
        head_of[i] = better_heads[0] if better_heads else i
        if head_of[i] == i:
            heads.append(i)
    return ranked, heads, head_of


def any_story_fits(found, who, options) -> bool:
    """Whether a story of these qualifying articles can be taken: when its head is too long, a
    member that fits shows the story instead (docs/selection.md), so any article that fits does."""
    return any(who.reading_budget is None or a.read_minutes <= who.reading_budget for a in found)


@FAST
@given(worlds(), readers(), watermarks, options_st)
@example([art(1, significance=3, minutes=2, related=[2]), art(2, minutes=1)], reader(["xAI"], reading_budget=1), None,
         SelectionOptions())  # a 1-minute article under a 2-minute head, with a budget of 1 minute
def test_if_any_qualifying_article_fits_the_budget_something_is_chosen_and_no_two_choices_are_related(
        articles, who, mark, options):
    start, end = window(END, mark, options)
    result = select(articles, who, end=END, watermark=mark, options=options)
    found = qualifying(articles, who, start, end)
    if who.reading_budget and any(a.read_minutes <= who.reading_budget for a in found):
        assert result.choices and result.skip_reason is None
    chosen = {c.article.url for c in result.choices}
    for c in result.choices:
        assert not chosen & (set(c.article.related) - {c.article.url}), "two chosen articles are directly related"
    linked = {(a.url, u) for a in articles for u in a.related} | {(u, a.url) for a in articles for u in a.related}
    for c in result.choices:
        for other in result.choices:
            assert (c.article.url, other.article.url) not in linked


def test_a_long_chain_of_related_articles_does_not_exhaust_the_stack_and_folds_one_hop_at_a_time():
    n = 3000
    articles = [art(i, significance=1 + (i % 3), related=[i + 1], age=random.Random(i).uniform(0, 6)) for i in range(1, n + 1)]
    options = SelectionOptions(max_per_company=50)
    result = select(articles, reader(["xAI"], max_articles=50), end=END, watermark=None, options=options)
    ranked, heads, head_of = stories(articles, options)
    expected = heads[:50]
    assert [c.article.id for c in result.choices] == [ranked[h].id for h in expected]
    for choice, h in zip(result.choices, expected):
        members = [ranked[m] for m in head_of if head_of[m] == h and m != h]
        assert [a.id for a in choice.connected] == [a.id for a in sorted(members, key=lambda a: (-a.published_at.timestamp(), a.url))]
    assert result.more_count == n - 50 - sum(len(c.connected) for c in result.choices)
