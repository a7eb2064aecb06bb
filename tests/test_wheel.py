"""The wheel as a user gets it: built from the repository, installed into a fresh virtual environment, run elsewhere."""

from __future__ import annotations

import email
import json
import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import time
import zipfile
from email import policy
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT
from tests.web_helpers import free_port

pytestmark = pytest.mark.slow

# Copied from the checkout to build from (what `pip wheel .` reads); build output stays out of the checkout.
NOT_SOURCE = shutil.ignore_patterns(".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", "*.pyc", "var",
                                    "outbox", "test-artifacts", ".hypothesis", ".pytest_cache", "benchmarks", "tests",
                                    "*.db", "*.db-*", "*.eml", "*.whl")
SEED_DATA = ("articles.jsonl", "subscribers.csv", "companies.json")
MONDAY_SEND = "2026-11-23T08:30:00Z"  # the newest seed week's Monday, just after an 08:00 UTC send


def run(args, cwd, env, check=0, timeout=120):
    proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    if check is not None:
        assert proc.returncode == check, (args, proc.returncode, proc.stdout[-3000:], proc.stderr[-3000:])
    return proc


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """`pip wheel` of a copy of the repository, offline, with the build backend this environment has."""
    import setuptools

    if tuple(int(p) for p in setuptools.__version__.split(".")[:2]) < (70, 1):
        pytest.fail(f"setuptools {setuptools.__version__} cannot build wheels without the `wheel` package: "
                    "install the test extras (`pip install -e '.[test]'`, which ./run does)")
    base = tmp_path_factory.mktemp("wheel")
    source, dist = base / "source", base / "dist"
    shutil.copytree(ROOT, source, ignore=NOT_SOURCE)
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
         "--disable-pip-version-check", "-q", "-w", str(dist), str(source)], cwd=base, env=os.environ)
    (built,) = dist.glob("amw_digest-*.whl")
    return built


@pytest.fixture(scope="module")
def venv(wheel, tmp_path_factory) -> Path:
    """A fresh virtual environment holding the wheel. The dependencies come from this environment's
    site-packages through a path line (no network), which runs none of its .pth files, so the
    editable install's finder stays inactive and the checkout is not on the path."""
    folder = tmp_path_factory.mktemp("venv") / "venv"
    run([sys.executable, "-m", "venv", "--without-pip", str(folder)], cwd=folder.parent, env=os.environ)
    python = folder / "bin" / "python"
    # Install before the dependencies become visible: pip then sees no other amw-digest to replace.
    run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index",
         "--disable-pip-version-check", "-q", str(wheel)], cwd=folder.parent, env=os.environ)
    site = run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
               cwd=folder.parent, env=os.environ).stdout.strip()
    ours = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (Path(site) / "amw_digest_test_dependencies.pth").write_text("".join(f"{p}\n" for p in sorted(ours)))
    return folder


@pytest.fixture
def user_env(venv) -> dict:
    """A shell of a user who activated the environment: no DIGEST_* settings, no PYTHONPATH."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("DIGEST_") and k not in {"PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP"}}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["VIRTUAL_ENV"] = str(venv)
    return env


def _files_under(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")
            if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"}


def test_wheel_ships_every_module_template_migration_and_seed_file_and_nothing_else(wheel):
    with zipfile.ZipFile(wheel) as archive:
        names = {n for n in archive.namelist() if ".dist-info/" not in n}
        top_level = archive.read(next(n for n in archive.namelist() if n.endswith(".dist-info/top_level.txt")))
    expected = {f"digest/{p}" for p in _files_under(ROOT / "digest")
                if p.endswith(".py") or p.startswith(("web/templates/", "migrations/"))}
    expected |= {f"subscribers/{p}" for p in _files_under(ROOT / "subscribers") if p.endswith(".py")}
    expected |= {f"digest/email_templates/{p}" for p in _files_under(ROOT / "templates")}
    expected |= {f"digest/seeds/{name}" for name in (*SEED_DATA, "__init__.py")}
    # The catalogs: each .po and the .pot, and the .mo the build compiled from each .po.
    catalogs = {f"digest/{p}" for p in _files_under(ROOT / "digest") if p.startswith("locale/") and not p.endswith(".mo")}
    expected |= catalogs | {p[:-3] + ".mo" for p in catalogs if p.endswith(".po")}
    assert "digest/locale/ko/LC_MESSAGES/messages.mo" in expected
    assert names == expected, (sorted(names - expected), sorted(expected - names))
    assert {"digest/email_templates/digest.mjml.j2", "digest/email_templates/partials/card.mjml.j2",
            "digest/web/templates/index.html", "digest/migrations/script.py.mako"} <= names
    assert not {"digest/seeds/make_seeds.py", "digest/seeds/README.md"} & names
    # The top-level packages a wheel puts into site-packages (subscribers/ keeps its name for now).
    assert top_level.decode().split() == ["digest", "subscribers"]


def test_installed_wheel_imports_from_its_environment_with_no_checkout_on_the_path(venv, user_env, tmp_path):
    probe = ("import json, sys, digest, digest.email_templates, digest.seeds, subscribers\n"
             "from digest.config import Settings\n"
             "print(json.dumps({'digest': digest.__file__, 'templates': Settings().templates_dir,\n"
             "  'seeds': digest.seeds.__file__, 'subscribers': subscribers.__file__, 'path': sys.path,\n"
             "  'finders': [repr(f) for f in sys.meta_path]}))")
    found = json.loads(run([str(venv / "bin" / "python"), "-c", probe], cwd=tmp_path, env=user_env).stdout)
    inside = str(venv.resolve()) + os.sep
    for key in ("digest", "templates", "seeds", "subscribers"):
        assert str(Path(found[key]).resolve()).startswith(inside), (key, found[key])
    assert Path(found["templates"], "digest.mjml.j2").is_file()
    assert str(ROOT) not in {str(Path(p).resolve()) for p in found["path"] if p}
    assert not any("Editable" in f for f in found["finders"]), found["finders"]


def test_installed_wheel_speaks_korean_and_japanese_from_its_built_catalogs(venv, user_env, tmp_path):
    """Issue 16: the .mo files the build compiled are installed and used outside the checkout."""
    probe = ("import json\n"
             "from digest.i18n import LOCALE_DIR, catalog_languages, language\n"
             "print(json.dumps({'dir': str(LOCALE_DIR), 'languages': catalog_languages(),\n"
             "  'mo': sorted(p.parent.parent.name for p in LOCALE_DIR.glob('*/LC_MESSAGES/messages.mo')),\n"
             "  'ko': language('ko').gettext('Unsubscribe'), 'ja': language('ja').gettext('Unsubscribe')}))")
    found = json.loads(run([str(venv / "bin" / "python"), "-c", probe], cwd=tmp_path, env=user_env).stdout)
    assert str(Path(found["dir"]).resolve()).startswith(str(venv.resolve()) + os.sep)
    assert found["mo"] == found["languages"] and {"en", "ko", "ja"} <= set(found["languages"])
    assert (found["ko"], found["ja"]) == ("수신 거부", "配信停止")


def test_checkout_reads_the_repository_templates_and_seeds_through_the_package():
    # Under ./run (an editable install) the packaged names resolve to the top-level folders: one copy.
    from digest.cli.demo import SEEDS
    from digest.config import Settings

    assert Path(Settings().templates_dir).resolve() == (ROOT / "templates").resolve()
    assert SEEDS.resolve() == (ROOT / "seeds").resolve()


def test_installed_wheel_runs_init_ingest_preview_and_send_from_an_empty_folder(venv, user_env, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    shutil.copyfile(ROOT / "seeds" / "articles.jsonl", work / "articles.jsonl")
    article_count = len((work / "articles.jsonl").read_text(encoding="utf-8").splitlines())

    run(["digest", "init"], cwd=work, env=user_env)
    assert (work / "var" / "digest.db").is_file()
    ingested = json.loads(run(["digest", "ingest", "articles.jsonl", "--json"], cwd=work, env=user_env).stdout)
    assert ingested["stored"] == article_count and ingested["rejected"] == []
    run(["digest", "subscribers", "add", "reader@example.com", "--name", "Wheel Reader", "--segment", "Compute",
         "--timezone", "UTC", "--send-day", "mon", "--send-hour", "8"], cwd=work, env=user_env)

    summary = json.loads(run(["digest", "preview", "reader@example.com", "--as-of", MONDAY_SEND, "--out",
                              "preview.html", "--json"], cwd=work, env=user_env).stdout)
    assert summary["articles"] > 0 and summary["warnings"] == []
    html = (work / "preview.html").read_text(encoding="utf-8")
    assert "</html>" in html and all(choice["url"] in html for choice in summary["choices"])

    sent = json.loads(run(["digest", "send", "--as-of", MONDAY_SEND, "--json"], cwd=work, env=user_env).stdout)
    assert sent["sent"] == 1 and sent["failed"] == 0
    (eml,) = (work / "outbox").glob("*.eml")
    message = email.message_from_bytes(eml.read_bytes(), policy=policy.default)
    assert message["To"].addresses[0].addr_spec == "reader@example.com"
    assert message["Subject"] == summary["subject"]

    # DIGEST_TEMPLATES_DIR still overrides the installed templates with an edited copy.
    edited = tmp_path / "my-templates"
    shutil.copytree(ROOT / "templates", edited)
    text = edited / "digest.txt.j2"
    text.write_text(text.read_text(encoding="utf-8").replace("AMW DIGEST ·", "EDITED COPY ·"), encoding="utf-8")
    plain = run(["digest", "preview", "reader@example.com", "--as-of", MONDAY_SEND, "--format", "text"],
                cwd=work, env={**user_env, "DIGEST_TEMPLATES_DIR": str(edited)}).stdout
    assert plain.startswith("EDITED COPY ·")


def test_installed_wheel_runs_the_demo_on_its_packaged_seeds_in_an_empty_folder(venv, user_env, tmp_path):
    proc = run(["digest", "demo"], cwd=tmp_path, env=user_env, timeout=300)
    assert (tmp_path / "var" / "digest.db").is_file()
    line = next(l for l in proc.stdout.splitlines() if l.startswith("Digests this run:"))
    sent = int(line.split(":")[1].split()[0])
    assert sent > 0 and " 0 failed" in line
    assert len(list((tmp_path / "outbox").glob("*.eml"))) == sent
    # The hint names the command as this user runs it (on PATH here), not the checkout's ./run.
    assert "  digest preview ana@example.com --as-of " in proc.stdout and "./run" not in proc.stdout


def test_installed_wheel_serves_the_staff_page_and_a_preview_from_its_packaged_templates(venv, user_env, tmp_path):
    shutil.copyfile(ROOT / "seeds" / "articles.jsonl", tmp_path / "articles.jsonl")
    run(["digest", "init"], cwd=tmp_path, env=user_env)
    run(["digest", "ingest", "articles.jsonl"], cwd=tmp_path, env=user_env)
    run(["digest", "subscribers", "add", "staff-view@example.com", "--segment", "Compute"], cwd=tmp_path, env=user_env)
    choices = json.loads(run(["digest", "preview", "staff-view@example.com", "--as-of", MONDAY_SEND, "--json"],
                             cwd=tmp_path, env=user_env).stdout)["choices"]
    assert choices
    port = free_port()
    server = subprocess.Popen(["digest", "serve", "--port", str(port)], cwd=tmp_path, env=user_env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, server.stdout.read()
            try:
                if httpx.get(f"{url}/healthz", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "digest serve did not answer within 60 s"
            time.sleep(0.2)
        page = httpx.get(f"{url}/", timeout=30)
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert "Staff preview · AMW Digest" in page.text and "staff-view@example.com" in page.text
        preview = httpx.get(f"{url}/preview/email", params={"email": "staff-view@example.com",
                                                            "as_of": MONDAY_SEND[:16]}, timeout=30)
        assert preview.status_code == 200 and "</html>" in preview.text
        assert all(choice["url"] in preview.text for choice in choices)
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        server.stdout.close()
