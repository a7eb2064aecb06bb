"""The web app (`digest serve`): staff preview, one-click unsubscribe, preferences, feedback, web version."""

from .app import create_app
from subscribers.feedback import apply_feedback, feedback_links, read_feedback

__all__ = ["apply_feedback", "create_app", "feedback_links", "read_feedback"]
