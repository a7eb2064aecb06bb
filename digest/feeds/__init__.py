"""Articles from AMW's feeds: fetch.py (a conditional GET within limits), parse.py (JSON Feed with
`_amw`, Atom/RSS with the AMW namespace, into article records), poll.py (validate, store, report)."""

from .fetch import FetchError, Fetched, check_url, fetch
from .parse import AMW_NS, COMPANY_SCHEME, SEGMENT_SCHEME, FeedFormatError, parse_feed
from .poll import FeedRejected, FetchLimits, PollReport, poll_feeds, poll_one

__all__ = ["AMW_NS", "COMPANY_SCHEME", "SEGMENT_SCHEME", "FeedFormatError", "FeedRejected", "FetchError", "Fetched",
           "FetchLimits", "PollReport", "check_url", "fetch", "parse_feed", "poll_feeds", "poll_one"]
