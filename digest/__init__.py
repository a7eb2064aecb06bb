"""AMW Digest: personalized digests of AMW-rated AI-market news."""

__version__ = "0.1.0"
