"""The ``faq ask`` / ``faq check`` command contract, run as real subprocesses."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bot.faq.cli import add_faq_parser, run_faq_ask, run_faq_check
from bot.faq.content import packaged_content_dir

REPO_ROOT = Path(__file__).resolve().parent.parent
JSON_KEYS = {"id", "lang", "score", "answer", "candidates"}


def run_cli(
    *args: str, stdin: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m bot.faq.cli`` from the repository with a clean environment."""
    environment = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(REPO_ROOT)}
    environment.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "bot.faq.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=environment,
        cwd=REPO_ROOT,
        timeout=60,
        check=False,
    )


def test_ask_json_answers_each_stdin_line_in_order() -> None:
    lines = [
        "Kto w Krakowie prowadzi ewidencję stowarzyszeń zwykłych?",
        "Як змінити мову бота?",
        "",
        "czy w sobotę będzie padać?",
        "spotkanie z pełnomocnikiem",
    ]
    done = run_cli("faq", "ask", "--json", stdin="\n".join(lines) + "\n")
    assert done.returncode == 0, done.stderr
    objects = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(objects) == len(lines)
    for item in objects:
        assert set(item) == JSON_KEYS
        assert isinstance(item["score"], float | int) and 0 <= item["score"] <= 1
        assert isinstance(item["answer"], str) and item["answer"]
        assert "<" not in item["answer"]

    association, language, empty, weather, choice = objects
    assert association["id"] == "ordinary-association"
    assert association["lang"] == "pl"
    assert association["candidates"] == ["ordinary-association"]
    assert "https://ngo.krakow.pl/" in association["answer"]
    assert (language["id"], language["lang"]) == ("bot-language", "uk")
    assert "/language" in language["answer"]
    for abstained in (empty, weather):
        assert abstained["id"] is None and abstained["candidates"] == []
        assert "/help" in abstained["answer"]
    assert choice["id"] is None
    assert set(choice["candidates"]) == {"contact", "third-place"}


def test_ask_question_argument_prints_plain_answer() -> None:
    done = run_cli("faq", "ask", "Jak przekazać 1,5% podatku?")
    assert done.returncode == 0, done.stderr
    assert "KRS" in done.stdout
    assert "https://niw.gov.pl/opp/wykaz-opp/" in done.stdout
    assert not done.stdout.lstrip().startswith("{")


def test_ask_lang_option_forces_the_answer_language() -> None:
    done = run_cli("faq", "ask", "--json", "--lang", "en", "Хочу бути волонтеркою, що робити?")
    item = json.loads(done.stdout)
    assert (item["id"], item["lang"]) == ("volunteering", "en")
    assert "volunteer" in item["answer"].lower()


def test_ask_uses_bot_default_language_for_neutral_text() -> None:
    done = run_cli("faq", "ask", "--json", "KRDPP", env={"BOT_DEFAULT_LANGUAGE": "uk"})
    item = json.loads(done.stdout)
    assert (item["id"], item["lang"]) == ("krdpp", "uk")


def test_ask_rejects_a_bad_language_with_exit_2() -> None:
    done = run_cli("faq", "ask", "--lang", "de", "test")
    assert done.returncode == 2
    assert "--lang" in done.stderr


@pytest.mark.parametrize(
    "command", [["faq", "--help"], ["faq", "ask", "--help"], ["faq", "check", "--help"]]
)
def test_help_is_available(command: list[str]) -> None:
    done = run_cli(*command)
    assert done.returncode == 0
    assert "usage:" in done.stdout


def test_check_prints_counts_per_language() -> None:
    done = run_cli("faq", "check")
    assert done.returncode == 0, done.stderr
    assert "pl: 19 entries" in done.stdout
    assert "uk: 19 entries" in done.stdout
    assert "en: 19 entries" in done.stdout


def test_check_and_ask_honour_bot_content_dir_and_fail_naming_the_entry(tmp_path: Path) -> None:
    content_dir = tmp_path / "content"
    shutil.copytree(packaged_content_dir(), content_dir)
    uk = content_dir / "faq" / "uk.toml"
    uk.write_text(uk.read_text(encoding="utf-8").replace("[third-place]", "[third-plac]"), "utf-8")
    env = {"BOT_CONTENT_DIR": str(content_dir)}

    check = run_cli("faq", "check", env=env)
    assert check.returncode == 1
    assert "third-place" in check.stderr and "uk" in check.stderr

    ask = run_cli("faq", "ask", "--json", "test", env=env)
    assert ask.returncode == 1
    assert "third-place" in ask.stderr
    assert ask.stdout == ""


def test_check_reads_a_valid_replacement_folder(tmp_path: Path) -> None:
    content_dir = tmp_path / "content"
    shutil.copytree(packaged_content_dir(), content_dir)
    (content_dir / "faq" / "en.toml").unlink()
    done = run_cli("faq", "check", env={"BOT_CONTENT_DIR": str(content_dir)})
    assert done.returncode == 0, done.stderr
    assert "en: 0 entries" in done.stdout
    assert str(content_dir) in done.stdout


def test_add_faq_parser_plugs_into_a_main_parser() -> None:
    parser = argparse.ArgumentParser(prog="ngo-bot")
    add_faq_parser(parser.add_subparsers(dest="command", required=True))
    ask = parser.parse_args(["faq", "ask", "--json", "--lang", "uk", "pytanie"])
    assert ask.handler is run_faq_ask
    assert (ask.json, ask.lang, ask.question) == (True, "uk", "pytanie")
    check = parser.parse_args(["faq", "check"])
    assert check.handler is run_faq_check
    with pytest.raises(SystemExit):
        parser.parse_args(["faq"])


def test_check_fails_on_an_elsewhere_word_that_refuses_an_entry_s_own_wording(
    tmp_path: Path,
) -> None:
    target = tmp_path / "content"
    shutil.copytree(packaged_content_dir(), target)
    elsewhere = target / "faq" / "elsewhere.toml"
    # Ukrainian "Радом" (the city) has the lemma of "рада" (a council).
    elsewhere.write_text('[krdpp]\nuk = ["Радом"]\n', encoding="utf-8")
    done = run_cli("faq", "check", env={"BOT_CONTENT_DIR": str(target)})
    assert done.returncode == 1
    assert "'Радом' refuses krdpp's own uk wording" in done.stderr
    elsewhere.unlink()
    done = run_cli("faq", "check", env={"BOT_CONTENT_DIR": str(target)})
    assert done.returncode == 0, done.stderr
    assert "other places and owners (elsewhere.toml): 0" in done.stdout
