"""Selection: for one reader, the highest-rated new articles about what they follow, with the reasons.

- options.py: SelectionOptions, the rating and sort order, the window, the Selection result;
- selector.py: the Selector, candidates indexed once per run (prepare), and select for one reader;
- reader.py: one reader's pass: coverage of each follow first, then the rest by rating.
"""

from ..names import SEGMENT_SEPARATOR, company_key, segment_ancestors, segment_key  # noqa: F401 (re-exported)
from .options import MAX_OVERFLOW, Selection, SelectionError, SelectionOptions, first_days, rating, sort_key, window
from .reader import join_names
from .selector import Selector, prepare, select

__all__ = ["Selection", "SelectionError", "SelectionOptions", "Selector", "prepare", "rating", "select", "sort_key",
           "window", "join_names", "first_days", "MAX_OVERFLOW"]
