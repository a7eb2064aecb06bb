"""The public archive: /archive/ (weeks), /archive/<YYYY>-W<ww>/, /companies/<slug>/ and
/segments/<slug>/, each with feed.atom beside it. Stories by the AMW Read with their scores,
notes and "How this connects"; no reader data anywhere. Every answer carries an ETag and
Last-Modified and honours If-None-Match / If-Modified-Since with 304. DIGEST_PUBLIC_PAGES=false
leaves these routes out.
"""

from __future__ import annotations

from datetime import datetime, timezone
from email.utils import format_datetime, parsedate_to_datetime
from xml.sax.saxutils import escape, quoteattr

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session

from .. import archive
from ..archive import Listing
from ..names import slugify
from ..selection.options import SelectionOptions
from ..text import clean

router = APIRouter()
ATOM = "application/atom+xml; charset=utf-8"
CACHE = "public, max-age=300"
VERSION = "1"  # part of every ETag: bump when the pages' or feeds' markup changes


def _options(request: Request) -> SelectionOptions:
    return SelectionOptions.from_settings(request.app.state.settings)


def _base(request: Request) -> str:
    return request.app.state.settings.base_url.rstrip("/")


def not_modified(request: Request, etag: str, updated: datetime) -> bool:
    """RFC 9110: If-None-Match wins; else If-Modified-Since against the newest change."""
    given = request.headers.get("if-none-match")
    if given is not None:
        tags = {t.strip().removeprefix("W/") for t in given.split(",")}
        return "*" in tags or etag.removeprefix("W/") in tags
    since = request.headers.get("if-modified-since")
    if since:
        try:
            moment = parsedate_to_datetime(since)
        except (TypeError, ValueError, IndexError):
            return False
        if moment is None or moment.tzinfo is None:
            return False
        return updated.replace(microsecond=0) <= moment
    return False


def conditional(request: Request, listing: Listing, kind: str, render) -> Response:
    """The page or feed, or 304 when the client's copy is current; both with ETag and Last-Modified."""
    headers = {"Last-Modified": format_datetime(listing.updated.astimezone(timezone.utc), usegmt=True),
               "Cache-Control": CACHE}
    if kind != "atom":  # a page speaks the browser's language: one ETag per language, caches told why
        kind = f"{kind}:{request.app.state.pages.language_for(request)}"
        headers["Vary"] = "Accept-Language"
    etag = headers["ETag"] = listing.etag(VERSION, kind, request.url.path)
    if not_modified(request, etag, listing.updated):
        return Response(status_code=304, headers=headers)
    response = render()
    response.headers.update(headers)
    return response


def _page(request: Request, listing: Listing, *, heading: str, follow: str | None, feed: str, kind: str):
    def render():
        return request.app.state.pages(request, "archive_stories.html", heading=heading, listing=listing,
                                       follow=follow, feed=feed, slugify=slugify)
    return conditional(request, listing, kind, render)


def _feed(request: Request, listing: Listing, page_path: str) -> Response:
    def render():
        return Response(atom(listing, _base(request), page_path), media_type=ATOM)
    return conditional(request, listing, "atom", render)


# -- pages ---------------------------------------------------------------------------------------

@router.get("/archive/", response_class=HTMLResponse, summary="Public archive: the weeks")
def archive_index(request: Request):
    with Session(request.app.state.engine) as session:
        weeks = archive.weeks(session)
        listing = Listing("archive", (), archive.archive_updated(session))
    etag_listing = Listing("|".join(f"{w}:{n}" for w, n in weeks), (), listing.updated)

    def render():
        return request.app.state.pages(request, "archive_index.html", weeks=weeks)
    return conditional(request, etag_listing, "index", render)


@router.get("/archive/feed.atom", summary="Public archive: Atom feed of the newest stories")
def archive_feed(request: Request):
    with Session(request.app.state.engine) as session:
        listing = archive.recent_listing(session, _options(request))
    return _feed(request, listing, "/archive/")


def _week(request: Request, week: str) -> Listing:
    with Session(request.app.state.engine) as session:
        listing = archive.week_listing(session, week[:10], _options(request))
    if listing is None or not listing.stories:
        raise HTTPException(404)
    return listing


@router.get("/archive/{week}/", response_class=HTMLResponse, summary="Public archive: one ISO week's stories")
def archive_week(request: Request, week: str):
    listing = _week(request, week)
    return _page(request, listing, heading=f"Week {week}", follow=None, feed=f"/archive/{week}/feed.atom",
                 kind="week")


@router.get("/archive/{week}/feed.atom", summary="Public archive: one ISO week's Atom feed")
def archive_week_feed(request: Request, week: str):
    return _feed(request, _week(request, week), f"/archive/{week}/")


def _found(request: Request, listing, slug: str):
    """(the company or segment, its listing) by `listing` (archive.company_listing or segment_listing); 404 if none."""
    with Session(request.app.state.engine) as session:
        found = listing(session, slug[:300], _options(request))
    if found is None:
        raise HTTPException(404)
    return found


def _company(request: Request, slug: str):
    return _found(request, archive.company_listing, slug)


@router.get("/companies/{slug}/", response_class=HTMLResponse, summary="Public page of a company's stories")
def company_page(request: Request, slug: str):
    company, listing = _company(request, slug)
    return _page(request, listing, heading=company.name, follow=f"/subscribe?company={company.slug}",
                 feed=f"/companies/{company.slug}/feed.atom", kind="company")


@router.get("/companies/{slug}/feed.atom", summary="Atom feed of a company's stories")
def company_feed(request: Request, slug: str):
    company, listing = _company(request, slug)
    return _feed(request, listing, f"/companies/{company.slug}/")


def _segment(request: Request, slug: str):
    return _found(request, archive.segment_listing, slug)


@router.get("/segments/{slug}/", response_class=HTMLResponse, summary="Public page of a segment's stories")
def segment_page(request: Request, slug: str):
    segment, listing = _segment(request, slug)
    own = slugify(segment.name)
    return _page(request, listing, heading=segment.name, follow=f"/subscribe?segment={own}",
                 feed=f"/segments/{own}/feed.atom", kind="segment")


@router.get("/segments/{slug}/feed.atom", summary="Atom feed of a segment's stories")
def segment_feed(request: Request, slug: str):
    segment, listing = _segment(request, slug)
    return _feed(request, listing, f"/segments/{slugify(segment.name)}/")


# -- Atom ----------------------------------------------------------------------------------------

def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _text(value) -> str:
    return escape(clean(value))


def atom(listing: Listing, base: str, page_path: str) -> str:
    """An Atom 1.0 document (RFC 4287): feed id, title, updated, author, self and alternate links;
    each entry with id (the story's URL), title, link, updated, published, summary, categories."""
    page = base + page_path
    lines = ['<?xml version="1.0" encoding="utf-8"?>', '<feed xmlns="http://www.w3.org/2005/Atom">',
             f"<title>{_text('AMW Digest · ' + listing.title)}</title>", f"<id>{escape(page)}</id>",
             f"<updated>{_rfc3339(listing.updated)}</updated>", "<author><name>AMW Digest</name></author>",
             f"<link rel=\"self\" type=\"application/atom+xml\" href={quoteattr(page + 'feed.atom')}/>",
             f"<link rel=\"alternate\" type=\"text/html\" href={quoteattr(page)}/>"]
    for story in listing.stories:
        a = story.article
        summary = clean(a.summary)
        notes = "; ".join(n for n in (f"Novelty {a.novelty}/3: {clean(a.novelty_note)}" if a.novelty_note else "",
                                      f"Significance {a.significance}/3: {clean(a.significance_note)}"
                                      if a.significance_note else "") if n)
        lines += ["<entry>", f"<title>{_text(a.title)}</title>", f"<id>{escape(clean(a.url))}</id>",
                  f"<link rel=\"alternate\" href={quoteattr(clean(a.url))}/>",
                  f"<updated>{_rfc3339(story.updated_at)}</updated>",
                  f"<published>{_rfc3339(a.published_at)}</published>",
                  f"<summary>{escape(' '.join(p for p in (summary, notes) if p))}</summary>"]
        lines += [f"<category term={quoteattr(clean(c))}/>" for c in (*a.companies, *a.segments) if clean(c)]
        lines.append("</entry>")
    lines.append("</feed>")
    return "\n".join(lines) + "\n"
