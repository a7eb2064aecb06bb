"""Selection rules, one behaviour per test: window, matching, rating, repeats, stories, coverage, limits."""

from __future__ import annotations

import dataclasses
import random
from datetime import timedelta

import pytest

from digest.config import Settings
from digest.errors import ConfigError
from digest.selection import (
    Selection,
    SelectionError,
    SelectionOptions,
    Selector,
    prepare,
    rating,
    select,
    window,
)
from selection_helpers import END, art, reader, url

FM_CASES = "Foundation Models · Case Studies"
FM_DEBATES = "Foundation Models · Open Debates"


def ids(selection: Selection) -> list[int]:
    return [c.article.id for c in selection.choices]


def pick(articles, who, **kw) -> Selection:
    kw.setdefault("watermark", None)
    return select(articles, who, end=END, **kw)


# -- window ------------------------------------------------------------------------------------


def test_first_digest_looks_back_seven_days():
    assert window(END, None) == (END - timedelta(days=7), END)


def test_watermark_inside_the_lookback_starts_the_window():
    mark = END - timedelta(days=3)
    assert window(END, mark) == (mark, END)


def test_paused_reader_gets_at_most_the_lookback_limit():
    assert window(END, END - timedelta(days=30), SelectionOptions(lookback_days=10)) == (END - timedelta(days=10), END)


def test_watermark_after_the_end_gives_an_empty_window_not_a_negative_one():
    assert window(END, END + timedelta(hours=1)) == (END, END)


def test_naive_end_is_refused():
    with pytest.raises(SelectionError):
        window(END.replace(tzinfo=None), None)


def test_window_is_half_open_start_included_end_excluded():
    articles = [art(1, age=timedelta(days=7)), art(2, age=timedelta(0)), art(3, age=timedelta(days=7, seconds=1))]
    assert ids(pick(articles, reader(["xAI"]))) == [1]


def test_articles_published_since_the_watermark_only():
    articles = [art(1, age=1), art(2, age=5)]
    result = pick(articles, reader(["xAI"]), watermark=END - timedelta(days=3))
    assert ids(result) == [1]
    assert result.window_start == END - timedelta(days=3)


def test_a_paused_week_keeps_the_articles_published_meanwhile():
    # The last delivered digest was two weeks ago; last week's was skipped: its articles still come.
    articles = [art(1, age=6), art(2, age=2)]
    assert sorted(ids(pick(articles, reader(["xAI"]), watermark=END - timedelta(days=14)))) == [1, 2]


# -- matching and reasons ----------------------------------------------------------------------


def test_a_secondary_company_matches_and_is_named():
    result = pick([art(1, companies=("xAI", "OpenAI"))], reader(["OpenAI"]))
    assert result.choices[0].reasons == ("You follow OpenAI",)


def test_a_parent_segment_covers_its_children_and_is_named():
    result = pick([art(1, companies=("Tomoro",), segments=(FM_CASES,))], reader(segments=["Foundation Models"]))
    assert result.choices[0].reasons == ("You follow Foundation Models",)


def test_a_child_segment_does_not_cover_its_sibling():
    result = pick([art(1, companies=("Tomoro",), segments=(FM_DEBATES,))], reader(segments=[FM_CASES]))
    assert result.choices == ()


def test_reasons_list_companies_then_segments_in_the_articles_order():
    article = art(1, companies=("xAI", "OpenAI"), segments=("Data & IP", FM_CASES))
    who = reader(["OpenAI", "xAI"], ["Foundation Models", "Data & IP"])
    assert pick([article], who).choices[0].reasons == ("You follow xAI, OpenAI, Data & IP and Foundation Models",)


def test_names_match_regardless_of_case_and_spacing_and_the_readers_spelling_is_shown():
    article = art(1, companies=("XAI",), segments=("Foundation Models·Case Studies",))
    result = pick([article], reader(["xai"], ["foundation models · case studies"]))
    assert result.choices[0].reasons == ("You follow xai and foundation models · case studies",)


def test_unfollowed_articles_are_never_chosen():
    assert ids(pick([art(1, companies=("Anthropic",)), art(2)], reader(["xAI"]))) == [2]


def test_a_company_and_a_segment_with_the_same_name_stay_apart():
    assert pick([art(1, companies=("Robotics",))], reader(segments=["Robotics"])).choices == ()


# -- rating and order --------------------------------------------------------------------------


def test_rating_weighs_significance_twice_novelty_by_default():
    assert rating(art(1, novelty=3, significance=1)) == 5.0
    assert rating(art(1, novelty=1, significance=3)) == 7.0


def test_choices_are_ordered_by_rating_then_newest_then_url():
    articles = [
        art(1, novelty=3, significance=1, age=1),  # 5
        art(2, novelty=1, significance=3, age=3),  # 7
        art(3, novelty=1, significance=3, age=2),  # 7, newer
        art(14, novelty=2, significance=2, age=4),  # 6
        art(13, novelty=2, significance=2, age=4),  # 6, same time: url order
    ]
    result = pick(articles, reader(["xAI"]), options=SelectionOptions(max_per_company=10))
    assert ids(result) == [3, 2, 13, 14, 1]
    assert [c.rating for c in result.choices] == [7.0, 7.0, 6.0, 6.0, 5.0]


def test_weights_are_configurable():
    articles = [art(1, novelty=3, significance=1), art(2, novelty=1, significance=3)]
    novelty_first = SelectionOptions(weight_novelty=3.0, weight_significance=1.0)
    assert ids(pick(articles, reader(["xAI"]), options=novelty_first)) == [1, 2]
    assert ids(pick(articles, reader(["xAI"]))) == [2, 1]


def test_articles_below_the_readers_minimum_significance_are_left_out():
    articles = [art(1, significance=1, novelty=3), art(2, significance=2)]
    assert ids(pick(articles, reader(["xAI"], min_significance=2))) == [2]


def test_a_week_below_the_minimum_significance_says_so():
    result = pick([art(1, significance=1)], reader(["xAI"], min_significance=3))
    assert result.choices == ()
    assert "minimum significance of 3" in result.skip_reason


# -- repeats -----------------------------------------------------------------------------------


def test_an_article_already_received_is_never_chosen_again_by_id_or_by_url():
    articles = [art(1), art(2), art(3)]
    result = pick(articles, reader(["xAI"]), received_ids=frozenset({1}), received_urls=frozenset({url(2)}))
    assert ids(result) == [3]


def test_overlapping_digests_never_repeat_an_article_already_received():
    # Daily digests over a seven-day lookback: each window overlaps the last six days of the one
    # before, so only what was received keeps an article from coming twice.
    articles = [art(i, age=random.Random(i).uniform(0, 9), significance=1 + i % 3, novelty=1 + i // 3 % 3)
                for i in range(1, 60)]
    selector = prepare(articles, SelectionOptions(max_per_company=5))
    who = reader(["xAI"], max_articles=5)
    received: set[int] = set()
    for day in (2, 1, 0):
        end = END - timedelta(days=day)
        result = selector.select(who, end=end, watermark=None, received_ids=frozenset(received))
        chosen = set(ids(result))
        assert len(chosen) == 5 and chosen.isdisjoint(received)
        if received:  # without what was received, the best of the overlap would come again
            again = set(ids(selector.select(who, end=end, watermark=None)))
            assert again & received
        received |= chosen


# -- stories -----------------------------------------------------------------------------------


def test_related_articles_form_one_story_shown_by_the_best_rated():
    articles = [art(1, significance=1, related=[2]), art(2, significance=3), art(3, significance=1, related=[2], age=2)]
    result = pick(articles, reader(["xAI"]))
    assert ids(result) == [2]
    assert [a.id for a in result.choices[0].connected] == [1, 3]  # newest first
    assert result.more_count == 0


def test_a_story_links_one_hop_so_a_chain_does_not_fold_a_week_into_one_item():
    # 1 - 2 - 3 - 4 in a chain; 1 is best: its story is {1, 2}; 3 heads its own story with 4.
    articles = [art(1, significance=3, related=[2]), art(2, significance=2, related=[3]),
                art(3, significance=2, novelty=1, related=[4]), art(4, significance=1)]
    result = pick(articles, reader(["xAI"]))
    assert ids(result) == [1, 3]
    assert [[a.id for a in c.connected] for c in result.choices] == [[2], [4]]


def test_a_related_article_the_reader_does_not_follow_is_not_listed():
    articles = [art(1, related=[2]), art(2, companies=("Anthropic",))]
    assert pick(articles, reader(["xAI"])).choices[0].connected == ()


def test_an_article_related_to_one_received_is_marked_as_an_update():
    articles = [art(1, age=9), art(2, related=[1]), art(3, companies=("xAI",))]
    result = pick(articles, reader(["xAI"]), received_ids=frozenset({1}))
    assert {c.article.id: c.is_update for c in result.choices} == {2: True, 3: False}


def test_a_link_to_a_received_article_outside_the_candidates_marks_an_update():
    articles = [art(2, related=["https://amw.example/news/old"])]
    result = pick(articles, reader(["xAI"]), received_urls=frozenset({"https://amw.example/news/old"}))
    assert result.choices[0].is_update


def test_a_received_article_linking_to_a_new_one_marks_it_an_update():
    articles = [art(1, age=3, related=[2]), art(2)]
    assert pick(articles, reader(["xAI"]), received_ids=frozenset({1})).choices[0].is_update


# -- coverage, cap, maximum, budget ------------------------------------------------------------


def test_every_follow_gets_its_best_article_before_any_gets_a_second():
    articles = [art(i, companies=("xAI",), significance=3, novelty=3) for i in range(1, 6)]
    articles += [art(10, companies=("Anthropic",), significance=1, novelty=1),
                 art(20, companies=("Tomoro",), segments=(FM_CASES,), significance=1, novelty=2)]
    result = pick(articles, reader(["xAI", "Anthropic"], ["Foundation Models"], max_articles=3))
    assert sorted(ids(result)) == [1, 10, 20]


def test_coverage_picks_in_the_order_of_each_follows_best_article():
    articles = [art(1, companies=("A",), significance=3), art(2, companies=("B",), significance=2),
                art(3, companies=("C",), significance=1)]
    assert ids(pick(articles, reader(["A", "B", "C"], max_articles=2))) == [1, 2]


def test_no_more_than_three_from_one_primary_company_while_others_qualify():
    articles = [art(i, companies=("xAI",), significance=3) for i in range(1, 7)]
    articles += [art(10, companies=("OpenAI",), significance=1), art(11, companies=("OpenAI", "xAI"), significance=1)]
    result = pick(articles, reader(["xAI", "OpenAI"], max_articles=5))
    assert ids(result) == [1, 2, 3, 10, 11]


def test_the_cap_gives_way_once_no_other_company_qualifies():
    articles = [art(i, companies=("xAI",), significance=3) for i in range(1, 7)] + [art(10, companies=("OpenAI",))]
    result = pick(articles, reader(["xAI", "OpenAI"], max_articles=8))
    assert sorted(ids(result)) == [1, 2, 3, 4, 5, 6, 10]


def test_the_company_cap_is_configurable():
    articles = [art(i, significance=3) for i in range(1, 5)]
    articles += [art(10, companies=("OpenAI",)), art(11, companies=("Anthropic",), age=2)]
    result = pick(articles, reader(["xAI", "OpenAI", "Anthropic"], max_articles=3),
                  options=SelectionOptions(max_per_company=1))
    assert ids(result) == [1, 10, 11]


def test_never_more_than_the_readers_maximum_and_the_rest_is_counted():
    articles = [art(i, companies=(f"C{i}",)) for i in range(1, 13)]
    result = pick(articles, reader([f"C{i}" for i in range(1, 13)], max_articles=8))
    assert len(result.choices) == 8
    assert result.more_count == 4


def test_a_reading_budget_is_filled_from_read_minutes():
    articles = [art(1, significance=3, minutes=6, companies=("A",)), art(2, significance=3, minutes=5, companies=("B",)),
                art(3, significance=2, minutes=3, companies=("C",)), art(4, significance=1, minutes=1, companies=("D",))]
    result = pick(articles, reader(["A", "B", "C", "D"], reading_budget=10))
    assert ids(result) == [1, 3, 4]
    assert sum(c.article.read_minutes for c in result.choices) <= 10


def test_nothing_that_fits_the_budget_sends_nothing_and_says_why():
    result = pick([art(1, minutes=12)], reader(["xAI"], reading_budget=5))
    assert result.choices == ()
    assert "reading budget of 5 minutes" in result.skip_reason


# -- empty weeks and determinism ---------------------------------------------------------------


def test_an_empty_week_sends_nothing_and_records_why():
    result = pick([art(1, age=9), art(2, companies=("Anthropic",))], reader(["xAI"]))
    assert result.choices == ()
    assert result.skip_reason == "no new articles about what you follow in the last 7 days"


def test_an_empty_shortened_window_speaks_of_the_last_digest():
    result = pick([art(1, age=5)], reader(["xAI"]), watermark=END - timedelta(days=2))
    assert result.skip_reason == "no new articles about what you follow since your last digest"


def test_a_reader_who_follows_nothing_gets_nothing_with_a_reason():
    assert pick([art(1)], reader()).skip_reason == "you do not follow any company or segment yet"


def test_a_non_empty_selection_has_no_skip_reason():
    assert pick([art(1)], reader(["xAI"])).skip_reason is None


def test_the_same_input_in_any_order_gives_the_same_output():
    rng = random.Random(7)
    articles = [art(i, companies=(rng.choice(["xAI", "OpenAI", "Anthropic"]),), segments=(rng.choice([FM_CASES, FM_DEBATES, "Data & IP"]),),
                    significance=rng.randint(1, 3), novelty=rng.randint(1, 3), age=rng.randint(0, 6),
                    related=[rng.randint(1, 40)] if rng.random() < 0.3 else [])
                for i in range(1, 41)]
    who = reader(["xAI", "OpenAI"], ["Foundation Models"])
    first = repr(pick(articles, who))
    for _ in range(5):
        rng.shuffle(articles)
        assert repr(pick(articles, who)) == first


def test_one_prepared_selector_answers_every_reader_in_any_order_of_asking():
    # xAI articles rate 4, OpenAI 6, Anthropic 8; ages i % 8 days (an age of 0 is at the end: out).
    articles = [art(i, companies=(["xAI", "OpenAI", "Anthropic"][i % 3],), significance=1 + i % 3, age=i % 8)
                for i in range(1, 30)]
    two_days = END - timedelta(days=2)
    low = "no new article about what you follow {} reached your minimum significance of 3"
    expected = {
        # one company: all eight of the window by age (27 before 3: same time, url order)
        (0, None): ([9, 18, 27, 3, 12, 21, 6, 15], 0, None),
        (0, two_days): ([9, 18], 0, None),
        # two follows, two places: each follow's newest best; the other 16 (or 4) counted
        (1, None): ([17, 1], 16, None),
        (1, two_days): ([17, 1], 4, None),
        (2, None): ([], 0, low.format("in the last 7 days")),
        (2, two_days): ([], 0, low.format("since your last digest")),
    }
    who = [reader(["xAI"]), reader(["OpenAI", "Anthropic"], max_articles=2), reader(["xAI"], min_significance=3)]
    asked = list(expected)
    for order in (asked, asked[::-1], asked[1::2] + asked[::2]):
        selector = Selector(articles)
        for w, mark in order:
            result = selector.select(who[w], end=END, watermark=mark)
            assert (ids(result), result.more_count, result.skip_reason) == expected[w, mark]


# -- options -----------------------------------------------------------------------------------


def test_options_come_from_the_settings():
    settings = Settings(lookback_days=10, weight_novelty=1.5, weight_significance=3.0, max_company_articles=2)
    assert SelectionOptions.from_settings(settings) == SelectionOptions(10, 1.5, 3.0, 2)


@pytest.mark.parametrize("bad", [dict(lookback_days=0), dict(max_per_company=0), dict(weight_novelty=-1)])
def test_impossible_options_are_a_configuration_error(bad):
    with pytest.raises(ConfigError):
        SelectionOptions(**bad)


# -- rules pinned at their edges -----------------------------------------------------------------


def test_a_non_default_lookback_sets_the_window_and_the_reason():
    options = SelectionOptions(lookback_days=3)
    articles = [art(1, age=timedelta(days=3)), art(2, age=timedelta(days=3, seconds=1)), art(3, age=2)]
    result = pick(articles, reader(["xAI"]), options=options)
    assert (ids(result), result.window_start, result.window_end) == ([3, 1], END - timedelta(days=3), END)
    empty = pick([art(2, age=timedelta(days=3, seconds=1))], reader(["xAI"]), options=options)
    assert empty.skip_reason == "no new articles about what you follow in the last 3 days"
    shorter = pick([art(2, age=4)], reader(["xAI"]), watermark=END - timedelta(days=2), options=options)
    assert shorter.skip_reason == "no new articles about what you follow since your last digest"


def test_the_fill_pass_takes_what_still_fits_the_reading_budget_to_the_minute():
    # Coverage takes the best (6 minutes); 5 more would make 11; 4 more make exactly 10.
    articles = [art(1, significance=3, minutes=6), art(2, significance=2, minutes=5),
                art(3, significance=1, minutes=4), art(4, significance=1, minutes=5, age=2)]
    result = pick(articles, reader(["xAI"], reading_budget=10))
    assert ids(result) == [1, 3]
    assert result.more_count == 2


def test_a_capped_company_fills_the_rest_of_the_budget_only_with_what_fits():
    articles = [art(1, significance=3, minutes=6), art(2, significance=2, minutes=5),
                art(3, significance=1, minutes=4)]
    result = pick(articles, reader(["xAI"], reading_budget=10), options=SelectionOptions(max_per_company=1))
    assert ids(result) == [1, 3]


def test_a_budget_of_one_minute_says_minute():
    result = pick([art(1, minutes=2)], reader(["xAI"], reading_budget=1))
    assert result.skip_reason == "no article about what you follow fits your reading budget of 1 minute"
    assert result.more_count == 1
    assert (result.window_start, result.window_end) == (END - timedelta(days=7), END)


def test_a_story_is_an_update_when_one_of_its_connected_articles_follows_a_received_one():
    # 2 heads the story {2, 3}; only 3, a connected article, is related to what the reader received.
    articles = [art(1, age=9), art(2, significance=3, related=[3]), art(3, related=[1]), art(4)]
    result = pick(articles, reader(["xAI"]), received_ids=frozenset({1}))
    assert {c.article.id: ([a.id for a in c.connected], c.is_update) for c in result.choices} == {
        2: ([3], True), 4: ([], False)}


def test_a_connected_articles_link_to_a_received_url_outside_the_candidates_marks_an_update():
    old = "https://amw.example/news/old"
    articles = [art(2, significance=3, related=[3]), art(3, related=[old])]
    result = pick(articles, reader(["xAI"]), received_urls=frozenset({old}))
    assert [([a.id for a in c.connected], c.is_update) for c in result.choices] == [([3], True)]
    unrelated = pick(articles, reader(["xAI"]), received_urls=frozenset({"https://amw.example/news/other"}))
    assert [c.is_update for c in unrelated.choices] == [False]


@pytest.mark.parametrize("why", ["received", "below-minimum", "unfollowed", "outside-window"])
def test_an_article_heads_its_own_story_when_the_better_related_one_does_not_qualify(why):
    better = {"received": art(1, significance=3, related=[2]),
              "below-minimum": art(1, significance=1, novelty=3, related=[2]),
              "unfollowed": art(1, companies=("Anthropic",), significance=3, related=[2]),
              "outside-window": art(1, significance=3, related=[2], age=8)}[why]
    articles = [better, art(2, significance=2, novelty=1, related=[3]), art(3, significance=2, novelty=1, age=2)]
    received = frozenset({1}) if why == "received" else frozenset()
    who = reader(["xAI"], min_significance=2 if why == "below-minimum" else 1)
    result = pick(articles, who, received_ids=received)
    # 2 heads the story that 1 would have headed, and takes 3 in with it.
    assert [(c.article.id, [a.id for a in c.connected]) for c in result.choices] == [(2, [3])]


def test_a_follow_written_without_spaces_around_the_dot_matches_the_segment():
    articles = [art(1, companies=("Tomoro",), segments=(FM_CASES,)), art(2, companies=("Tomoro",), segments=(FM_DEBATES,))]
    result = pick(articles, reader(segments=["Foundation Models·Case Studies"]))
    assert [(c.article.id, c.reasons) for c in result.choices] == [(1, ("You follow Foundation Models·Case Studies",))]


def test_a_follow_spelled_two_ways_is_named_by_the_first_spelling_in_sort_order():
    result = pick([art(1)], reader(["xAI", "XAI", " xai "]))
    assert result.choices[0].reasons == ("You follow  xai ",)
    assert pick([art(1, segments=(FM_CASES,))], reader(segments=["foundation models", "Foundation Models"])) \
        .choices[0].reasons == ("You follow Foundation Models",)


def test_a_name_followed_as_a_company_and_as_a_segment_is_given_once_as_the_reason():
    article = art(1, companies=("Robotics",), segments=("Robotics · Humanoids",))
    assert pick([article], reader(["Robotics"], ["Robotics"])).choices[0].reasons == ("You follow Robotics",)


def test_a_maximum_of_no_articles_sends_nothing_and_says_so():
    result = pick([art(1)], reader(["xAI"], max_articles=0))
    assert (result.choices, result.skip_reason, result.more_count) == ((), "your maximum number of articles is 0", 0)


@pytest.mark.parametrize("bad, message", [
    (dict(lookback_days=0), "DIGEST_LOOKBACK_DAYS must be at least 1, not 0"),
    (dict(max_per_company=0), "DIGEST_MAX_COMPANY_ARTICLES must be at least 1, not 0"),
    (dict(weight_novelty=-0.5), "DIGEST_WEIGHT_NOVELTY and DIGEST_WEIGHT_SIGNIFICANCE must not be negative"),
    (dict(weight_significance=-1.0), "DIGEST_WEIGHT_NOVELTY and DIGEST_WEIGHT_SIGNIFICANCE must not be negative"),
])
def test_impossible_options_name_the_setting_to_fix(bad, message):
    with pytest.raises(ConfigError) as info:
        SelectionOptions(**bad)
    assert str(info.value) == message


def test_the_smallest_allowed_options_are_accepted_and_default_settings_give_the_default_options():
    assert SelectionOptions(lookback_days=1, max_per_company=1, weight_novelty=0.0, weight_significance=0.0)
    assert SelectionOptions.from_settings(Settings()) == SelectionOptions(7, 1.0, 2.0, 3)


@pytest.mark.parametrize("naive", ["end", "watermark", "published_at"])
def test_a_time_without_a_zone_is_refused_with_its_name(naive):
    bare = END.replace(tzinfo=None)
    with pytest.raises(SelectionError) as info:
        if naive == "end":
            window(bare, None)
        elif naive == "watermark":
            pick([art(1)], reader(["xAI"]), watermark=bare)
        else:
            Selector([dataclasses.replace(art(1), published_at=bare)])
    name = {"end": "end", "watermark": "watermark", "published_at": f"published_at of {url(1)}"}[naive]
    assert str(info.value) == f"{name} must carry a time zone, got {bare.isoformat()}"


def test_a_selector_answers_the_same_after_its_window_cache_is_full():
    articles = [art(i, age=i / 10) for i in range(1, 40)]
    selector = Selector(articles)
    first = selector.select(reader(["xAI"]), end=END, watermark=END - timedelta(days=1))
    for hours in range(1, 100):  # more distinct windows than the cache keeps
        selector.select(reader(["xAI"]), end=END - timedelta(hours=hours), watermark=None)
    assert selector.select(reader(["xAI"]), end=END, watermark=END - timedelta(days=1)) == first
    assert ids(first) == [1, 2, 3, 4, 5, 6, 7, 8]


def test_a_capped_company_does_not_fill_while_another_companys_article_is_left_out_by_the_budget():
    # OpenAI's one article is longer than the budget: left out, so xAI stays at its cap of 3.
    articles = [art(i, significance=3, minutes=2) for i in range(1, 6)] + [art(10, companies=("OpenAI",), minutes=20)]
    result = pick(articles, reader(["xAI", "OpenAI"], reading_budget=10))
    assert ids(result) == [1, 2, 3]


def test_a_capped_company_fills_when_the_other_companys_article_is_shown_inside_a_story():
    # OpenAI's one article joins the best xAI story, so nothing of another company is left out.
    articles = [art(1, significance=3, related=[10])] + [art(i, significance=3) for i in range(2, 6)]
    articles.append(art(10, companies=("OpenAI",), significance=1))
    result = pick(articles, reader(["xAI", "OpenAI"]))
    assert [(c.article.id, [a.id for a in c.connected]) for c in result.choices] == [
        (1, [10]), (2, []), (3, []), (4, []), (5, [])]


def test_a_prepared_selector_uses_its_options():
    articles = [art(1, age=2), art(2, age=4)]
    selector = prepare(articles, SelectionOptions(lookback_days=3))
    result = selector.select(reader(["xAI"]), end=END, watermark=None)
    assert (ids(result), result.window_start) == ([1], END - timedelta(days=3))


def test_an_article_joins_the_best_qualifying_head_past_a_better_related_one_that_does_not_qualify():
    # 3 is related to 1 (received: not a candidate) and to 2 (a head): it joins 2's story.
    articles = [art(1, significance=3), art(2, significance=2), art(3, significance=1, related=[1, 2])]
    result = pick(articles, reader(["xAI"]), received_ids=frozenset({1}))
    assert [(c.article.id, [a.id for a in c.connected]) for c in result.choices] == [(2, [3])]


def test_a_story_covers_every_follow_its_head_matches_so_the_next_place_goes_by_rating():
    # 1 covers xAI and OpenAI at once; the second place is the better of what is left (2, not 3).
    articles = [art(1, companies=("xAI", "OpenAI"), significance=3), art(2, companies=("OpenAI",), significance=2),
                art(3, companies=("xAI",), significance=1)]
    assert ids(pick(articles, reader(["xAI", "OpenAI"], max_articles=2))) == [1, 2]


def test_a_story_covers_the_follows_its_connected_articles_match():
    # 1's story holds 4 (OpenAI): OpenAI is covered, so the second place goes to 2 by rating, not to 5.
    articles = [art(1, significance=3, related=[4]), art(4, companies=("OpenAI",), significance=1, novelty=1),
                art(2, significance=2), art(5, companies=("OpenAI",), significance=1, novelty=2)]
    result = pick(articles, reader(["xAI", "OpenAI"], max_articles=2))
    assert [(c.article.id, [a.id for a in c.connected]) for c in result.choices] == [(1, [4]), (2, [])]


def test_a_story_related_to_a_received_id_stays_an_update_whatever_urls_were_received():
    articles = [art(1, age=9), art(2, related=[1])]
    result = pick(articles, reader(["xAI"]), received_ids=frozenset({1}),
                  received_urls=frozenset({"https://amw.example/news/unrelated"}))
    assert [(c.article.id, c.is_update) for c in result.choices] == [(2, True)]


def test_a_reading_budget_of_zero_means_no_budget():
    articles = [art(i, companies=(f"C{i}",), minutes=30) for i in range(1, 4)]
    result = pick(articles, reader([f"C{i}" for i in range(1, 4)], reading_budget=0))
    assert (ids(result), result.skip_reason) == ([1, 2, 3], None)


def test_coverage_takes_a_story_that_fills_the_budget_exactly():
    # xAI's best (4 minutes) and OpenAI's only article (6) make exactly 10: OpenAI is covered,
    # rather than the place going to xAI's second article by rating.
    articles = [art(1, significance=3, minutes=4), art(2, significance=2, minutes=5),
                art(3, companies=("OpenAI",), significance=1, minutes=6)]
    assert ids(pick(articles, reader(["xAI", "OpenAI"], reading_budget=10))) == [1, 3]


@pytest.mark.parametrize("cap, expected", [(1, [12, 11]), (2, [12, 10])])
def test_coverage_passes_over_a_story_of_a_capped_company_to_the_follows_next_one(cap, expected):
    # The segment's best article is xAI's (10). With a cap of 1, xAI's best (12) fills it and the
    # segment gets OpenAI's (11); with a cap of 2 it still gets 10.
    articles = [art(12, significance=3, novelty=3), art(10, segments=("Data & IP",), significance=3, novelty=2),
                art(11, companies=("OpenAI",), segments=("Data & IP",), significance=1)]
    result = pick(articles, reader(["xAI"], ["Data & IP"], max_articles=2), options=SelectionOptions(max_per_company=cap))
    assert ids(result) == expected


def test_a_follow_already_covered_is_passed_over_and_the_next_follow_still_gets_its_story():
    # 1 covers A and B; C still gets its (lower-rated) article before a second A article.
    articles = [art(1, companies=("A", "B"), significance=3), art(2, companies=("A",), significance=2),
                art(3, companies=("C",), significance=1)]
    assert ids(pick(articles, reader(["A", "B", "C"], max_articles=2))) == [1, 3]


def test_a_follow_whose_best_story_is_capped_is_still_served_before_a_worse_follow():
    # The segment's best (10) is xAI's, capped after 12: its next (11) still comes before Anthropic's 15.
    articles = [art(12, significance=3, novelty=3), art(10, segments=("Data & IP",), significance=3, novelty=2),
                art(11, companies=("OpenAI",), segments=("Data & IP",), significance=1),
                art(15, companies=("Anthropic",), significance=1, novelty=1)]
    result = pick(articles, reader(["xAI", "Anthropic"], ["Data & IP"], max_articles=2),
                  options=SelectionOptions(max_per_company=1))
    assert ids(result) == [12, 11]


def test_the_fill_pass_never_goes_over_the_budget_after_each_article_it_takes():
    # 6 + 3 = 9 of 10: the other 3-minute article no longer fits, the 1-minute one does.
    articles = [art(1, significance=3, minutes=6), art(2, significance=2, novelty=3, minutes=3),
                art(3, significance=2, novelty=2, minutes=3), art(4, significance=1, minutes=1)]
    result = pick(articles, reader(["xAI"], reading_budget=10), options=SelectionOptions(max_per_company=10))
    assert ids(result) == [1, 2, 4]


def test_every_capped_company_fills_once_no_other_article_is_left_out():
    articles = [art(1, significance=3), art(2, significance=2), art(3, companies=("OpenAI",), significance=3, age=2),
                art(4, companies=("OpenAI",), significance=2, age=2)]
    result = pick(articles, reader(["xAI", "OpenAI"], max_articles=4), options=SelectionOptions(max_per_company=1))
    assert ids(result) == [1, 3, 2, 4]


# -- a story whose head is longer than the reading budget ---------------------------------------


def test_a_short_article_leads_its_story_when_the_better_head_is_longer_than_the_budget():
    # 1 is better rated and heads the story {1, 2}, but only 2 fits one minute: 2 shows the story.
    articles = [art(1, significance=3, minutes=2, related=[2]), art(2, minutes=1)]
    result = pick(articles, reader(["xAI"], reading_budget=1))
    assert ids(result) == [2]
    assert [a.id for a in result.choices[0].connected] == [1]
    assert (result.skip_reason, result.more_count) == (None, 0)


def test_the_head_of_a_story_still_leads_it_when_it_fits():
    articles = [art(1, significance=3, minutes=2, related=[2]), art(2, minutes=1)]
    result = pick(articles, reader(["xAI"], reading_budget=2))
    assert ids(result) == [1]
    assert [a.id for a in result.choices[0].connected] == [2]


def test_a_stand_in_counts_its_own_minutes_and_company_and_names_every_follow_of_its_story():
    # 1 (Anthropic, 9 min) heads {1, 2}; 2 (xAI, 2 min) shows it. 3 (xAI, 2 min) has 1 minute left: out.
    articles = [art(1, ("Anthropic",), significance=3, minutes=9, related=[2]), art(2, ("xAI",), minutes=2),
                art(3, ("xAI",), minutes=2, age=2), art(4, ("OpenAI",), minutes=1, age=3)]
    result = pick(articles, reader(["xAI", "Anthropic", "OpenAI"], reading_budget=3),
                  options=SelectionOptions(max_per_company=1))
    assert ids(result) == [2, 4]
    first = result.choices[0]
    assert first.reasons == ("You follow xAI",) and first.lead == "xAI"
    assert set(first.matched) == {"xAI", "Anthropic"}
    assert result.more_count == 1  # 3: xAI is at its cap of 1


def test_a_stand_in_is_never_directly_related_to_another_choice():
    # 1 (5 min) heads {1, 2}; 3 heads its own story but is related to 2. With 3 minutes, 2 shows the
    # first story, so 3, related to it, stays out (two chosen articles are never directly related).
    articles = [art(1, significance=3, minutes=5, related=[2]), art(2, significance=2, novelty=3, minutes=1),
                art(3, significance=2, minutes=2, related=[2])]
    result = pick(articles, reader(["xAI"], reading_budget=3))
    assert ids(result) == [2]
    assert [a.id for a in result.choices[0].connected] == [1]
    assert result.more_count == 1
