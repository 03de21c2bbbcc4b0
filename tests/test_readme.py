"""The README's walk-throughs, run as written against the real `make run` stack.

The README is the newcomer's first program: this keeps it true. The test starts `python -m devtools.run_local`
on free ports with a clean environment (as tests/test_local_stack.py does), takes the ```sh blocks of the two
walk-throughs ("an erasure request, end to end", then "every other right, and the clock") in README order,
and runs them in **one** bash session, so the variables and shell functions one block defines serve the next,
exactly as in the newcomer's terminal.

How the blocks are run:
- `set -euo pipefail` and `shopt -s inherit_errexit`: every block must exit 0; a failing command (a `grep`
  that finds nothing, a `python3` that can't find a link) stops the session there.
- The working directory is the project (the README says "from the project directory"); `TMPDIR` is this
  test's temporary directory, so `mktemp` files go away with it.
- The README tells the reader to copy values from `make run`'s output by hand: in the walk-through's first
  block, a line `NAME=value  # ... "key:" ...` gets the value of the line `key: value` that the stack printed
  (its first word; its port when the comment says "port"). Nothing else is set for the session.

How an output is compared (both sides normalised first):
- Normalising replaces what varies from run to run with placeholders: ids (`t_`, `r_`, `d_`, `doc_`, `m_`,
  `g_` + 26 characters) → `t_<id>`...; tokens (`eyJ...`, with any `...` the README puts after them) →
  `<token>`; a record entry's `hash` and `prev` → `<sha256>`, keyed hashes → `h:<hash>`; ISO dates and
  date-times → `<date>`, `<time>`; dates in words ("30 November 2026", "30 décembre 2026") → `<day>`;
  `127.0.0.1:<port>`; curl's version in a user agent; runs of spaces → one space.
- The block right after a ```sh block (``` or ```json, only blank lines between) is that block's output. If
  it contains no `...` it must equal the output, line for line. If it does, it is an excerpt: each of its
  lines, cut at every `...`, gives pieces that must all appear in the output, in the order shown.
- Inside a ```sh block, comment lines directly under a command (no blank line between) show what it printed:
  they are an excerpt, checked the same way against the block's output. A comment after a blank line, or at
  the start of a block, is prose and isn't checked.
"""
import pathlib
import re
import shlex
import subprocess
import time
import urllib.parse
from dataclasses import dataclass, field


from tests.test_local_stack import ROOT, LocalStack, clean_environment

README = ROOT / "docs" / "walkthrough.md"  # the walk-throughs live there; README.md points to them
WALKTHROUGHS = ("## Walk-through: an erasure request, end to end",
                "## Walk-through: every other right, and the clock")
SESSION_SECONDS = 240  # the whole walk-through takes well under a minute; this only bounds a hang
EXPECTED_LANGS = ("", "json", "text")


@dataclass
class Block:
    line: int           # README line of the opening fence, for messages
    closing: int        # index (from 0) of the closing fence's line
    heading: str        # the `###` heading it is under
    code: str
    expected: str | None = None               # the fenced block that follows it, if any
    expected_line: int | None = None
    excerpts: list[tuple[int, str]] = field(default_factory=list)  # (README line, text) of output comments


# --- reading the README --------------------------------------------------------------------------------------

def walkthrough_blocks(text: str) -> list[Block]:
    """The ```sh blocks of the walk-throughs, in order, each with the output the README shows for it."""
    lines = text.splitlines()
    blocks: list[Block] = []
    section = heading = None
    seen = set()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("## "):
            section = line if line in WALKTHROUGHS else None
            heading = line[3:]
            seen.add(section)
        elif line.startswith("### "):
            heading = line[4:]
        if section and line.startswith("```"):
            lang, opening = line[3:].strip(), i
            body, i = _fence(lines, opening)  # i: the closing fence
            if lang == "sh":
                blocks.append(Block(opening + 1, i, heading, "\n".join(body) + "\n",
                                    excerpts=_output_comments(body, opening + 2)))
            elif lang in EXPECTED_LANGS and blocks and blocks[-1].expected is None and _follows(lines, blocks[-1], opening):
                blocks[-1].expected, blocks[-1].expected_line = "\n".join(body), opening + 1
        i += 1
    missing = set(WALKTHROUGHS) - seen
    assert not missing, f"docs/walkthrough.md has no heading {sorted(missing)}: rename it here too, or the test runs less"
    return blocks


def _fence(lines: list[str], start: int) -> tuple[list[str], int]:
    """The lines of the fenced block opening at `start`, and the index of its closing fence."""
    end = start + 1
    while end < len(lines) and not lines[end].startswith("```"):
        end += 1
    assert end < len(lines), f"docs/walkthrough.md:{start + 1}: unclosed ``` block"
    return lines[start + 1:end], end


def _follows(lines: list[str], block: Block, opening: int) -> bool:
    """Whether the fence opening at index `opening` comes right after `block` (only blank lines between)."""
    return all(not line.strip() for line in lines[block.closing + 1:opening])


def _output_comments(body: list[str], first_line: int) -> list[tuple[int, str]]:
    """Comment lines right under a command (or under another such comment): what the command printed, with
    their README line numbers (`first_line` is the number of the body's first line)."""
    found, previous = [], "blank"
    for offset, line in enumerate(body):
        stripped = line.strip()
        if not stripped:
            previous = "blank"
        elif stripped.startswith("#"):
            if previous in ("command", "output"):
                found.append((first_line + offset, stripped[1:].removeprefix(" ")))
                previous = "output"
            else:
                previous = "prose"
        else:
            previous = "command"
    return found


def with_printed_values(code: str, printed: dict[str, str]) -> tuple[str, set[str]]:
    """The first block with make run's values in place of the README's examples, as the reader copies them."""
    used = set()

    def value(match: re.Match) -> str:
        key = match.group("key")
        assert key in printed, f'the README copies a "{key}:" line that make run does not print: {sorted(printed)}'
        used.add(key)
        printed_value = printed[key].split()[0]
        if "port" in match.group("comment"):
            printed_value = str(urllib.parse.urlsplit(printed_value).port)
        return f"{match.group('name')}={shlex.quote(printed_value)}{match.group('space')}{match.group('comment')}"

    pattern = re.compile(r'^(?P<name>(?:export )?[A-Za-z_]\w*)=\S+(?P<space>\s+)(?P<comment>#.*"(?P<key>\w+):".*)$',
                         re.M)
    return pattern.sub(value, code), used


# --- comparing outputs ---------------------------------------------------------------------------------------

MONTHS = ("January February March April May June July August September October November December "
          "janvier février mars avril mai juin juillet août septembre octobre novembre décembre").split()
NORMALISE = [
    (re.compile(r"eyJ[\w-]*(?:\.[\w-]*)*"), "<token>"),  # a JWT, or the README's "eyJ..." shorthand of one
    (re.compile(r"\b(doc|t|r|d|m|g)_[0-9A-Z]{26}\b"), r"\1_<id>"),
    (re.compile(r'("(?:hash|prev)": ?")[0-9a-f]{64}"'), r'\1<sha256>"'),  # a record's hashes cover its times
    (re.compile(r"\bh:[0-9a-f]{32}\b"), "h:<hash>"),  # a client's keyed hash depends on the stage's key
    (re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?"), "<time>"),
    (re.compile(r"\b\d{4}-\d{2}-\d{2}\b"), "<date>"),
    (re.compile(r"\b\d{1,2}(?:er)? (?:%s) \d{4}\b" % "|".join(MONTHS)), "<day>"),  # French: "1er janvier"
    (re.compile(r"127\.0\.0\.1:\d+"), "127.0.0.1:<port>"),
    (re.compile(r"curl/[\w.-]+"), "curl/<version>"),
    (re.compile(r"[ \t]+"), " "),
]


def normalise(text: str) -> str:
    for pattern, placeholder in NORMALISE:
        text = pattern.sub(placeholder, text)
    return "\n".join(line.strip() for line in text.strip().splitlines())


def missing_pieces(expected_lines: list[str], actual: str) -> list[str]:
    """Pieces of an excerpt (its lines cut at every `...`) not found in `actual` in the order shown."""
    actual, position, missing = normalise(actual), 0, []
    for line in expected_lines:
        for piece in normalise(line).split("..."):
            piece = piece.strip()
            if not piece:
                continue
            found = actual.find(piece, position)
            if found < 0:
                missing.append(piece)
            else:
                position = found + len(piece)
    return missing


def mismatches(block: Block, output: str) -> list[str]:
    problems = []
    if block.expected is not None:
        expected = normalise(block.expected)
        where = f"docs/walkthrough.md:{block.expected_line} ({block.heading})"
        if "..." in expected:
            missing = missing_pieces(block.expected.splitlines(), output)
            if missing:
                problems.append(f"{where}: excerpt not found in the output, in this order: {missing}")
        elif expected != normalise(output):
            problems.append(f"{where}: the output differs\n--- README (normalised)\n{expected}\n"
                            f"--- real (normalised)\n{normalise(output)}")
    if block.excerpts:
        missing = missing_pieces([text for _, text in block.excerpts], output)
        if missing:
            problems.append(f"docs/walkthrough.md:{block.excerpts[0][0]} ({block.heading}): output comments not found in "
                            f"the output, in this order: {missing}")
    if problems:
        problems.append(f"the block's real output:\n{output}")
    return problems


# --- running them ---------------------------------------------------------------------------------------------

def run_session(codes: list[str], workdir: pathlib.Path, env: dict) -> tuple[list[str], str | None]:
    """Run `codes` in one bash session. Returns each finished block's stdout, and what stopped the session
    early (None if every block exited 0)."""
    driver = ["set -euo pipefail", "shopt -s inherit_errexit", f"cd {shlex.quote(str(ROOT))}"]
    for index, code in enumerate(codes):
        script = workdir / f"block{index:02}.sh"
        script.write_text(code)
        out, err = workdir / f"block{index:02}.out", workdir / f"block{index:02}.err"
        driver.append(f"source {shlex.quote(str(script))} >{shlex.quote(str(out))} 2>{shlex.quote(str(err))}")
        driver.append(f"echo {index} $EPOCHREALTIME >>{shlex.quote(str(workdir / 'done'))}")
    (workdir / "session.sh").write_text("\n".join(driver) + "\n")
    stopped = None
    try:
        run = subprocess.run(["bash", str(workdir / "session.sh")], env=env, cwd=ROOT, timeout=SESSION_SECONDS,
                             capture_output=True, text=True)
        if run.returncode != 0:
            stopped = f"exit status {run.returncode}"
    except subprocess.TimeoutExpired:
        stopped = f"still running after {SESSION_SECONDS}s"
    done_file = workdir / "done"
    done = len(done_file.read_text().splitlines()) if done_file.exists() else 0
    outputs = [(workdir / f"block{index:02}.out").read_text() for index in range(done)]
    if stopped is not None:
        failed = workdir / f"block{done:02}"
        out = failed.with_suffix(".out").read_text() if failed.with_suffix(".out").exists() else ""
        err = failed.with_suffix(".err").read_text() if failed.with_suffix(".err").exists() else ""
        stopped = f"block {done} stopped the session ({stopped})\n--- stdout\n{out}\n--- stderr\n{err}"
    return outputs, stopped


def printed_lines(stack: LocalStack) -> dict[str, str]:
    """What `make run` printed for the reader: api, team_id, admin_token (stdout) and aws (stderr)."""
    printed = {"api": stack.api, "team_id": stack.team_id, "admin_token": stack.admin_token}
    deadline = time.monotonic() + 10
    while "aws" not in printed and time.monotonic() < deadline:
        match = re.search(r"^aws: (.+)$", stack.log_tail(10_000_000), re.M)
        if match:
            printed["aws"] = match.group(1)
        else:
            time.sleep(0.2)
    return printed


# --- the rules above, as specifications (no stack needed) ------------------------------------------------------

def test_what_varies_is_replaced_by_placeholders_on_both_sides():
    readme = ('{"request_id":"r_01M8QBWGYESDGCTNZ7WGREVKC2","received_at":"2026-11-30T23:15:50Z"}  due 30 December 2026\n'
              "http://127.0.0.1:8000/actions/eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9...")
    real = ('{"request_id":"r_01M8RV4FC13CE2EFT6QVJRF30T","received_at":"2026-12-01T13:01:46Z"} due 1 January 2027\n'
            "http://127.0.0.1:18431/actions/eyJhbGciOiJIUzI1NiJ9.eyJ0ZWFtIjoidF8wMSJ9.6j57lI9V9lquTUgW7N6OMlB8xq-1g7")
    assert normalise(readme) == normalise(real) == (
        '{"request_id":"r_<id>","received_at":"<time>"} due <day>\nhttp://127.0.0.1:<port>/actions/<token>')
    assert normalise("le 1er janvier 2027, curl/8.5.0") == "le <day>, curl/<version>"
    assert normalise('"completed"') != normalise('"pending"')


def test_an_excerpt_is_its_pieces_in_the_order_shown():
    real = '{"request_id":"r_01M8RV88H4AMEWMA8Y13FAD4EF","team_id":"t_01M8RV836V1167T53HN0T5YS44","type":"access",' \
           '"status":"completed","result":{"bytes":1400}} → 200'
    assert missing_pieces(['{"request_id":"r_01M8QCX1GHJR7MTZQZDXHEKNSG",...,"type":"access",...',
                           '"result":{"bytes":...}} → 200'], real) == []
    assert missing_pieces(['"type":"access"', '"request_id"'], real) == ['"request_id"']  # order matters
    assert missing_pieces(['"type":"erasure"'], real) == ['"type":"erasure"']


def test_comments_right_under_a_command_show_its_output_and_others_are_prose():
    body = ["# prose at the start", "curl ...", "# 200", "#", "# ...", "", "# prose after a blank line", "echo"]
    assert _output_comments(body, 1) == [(3, "200"), (4, ""), (5, "...")]


def test_the_block_after_an_sh_block_is_its_output_and_the_first_block_gets_make_runs_values():
    text = "\n".join([
        WALKTHROUGHS[0], "", "```sh", 'API=http://127.0.0.1:8000  # the "api:" line',
        'export MOTO_PORT=5555  # the port of the "aws:" line', "```", "", "```json", "{}", "```",
        "### step", "```sh", "true", "```", "Text between.", "```", "not its output", "```",
        WALKTHROUGHS[1], "## Deploying", "```sh", "not run", "```"])
    first, second = walkthrough_blocks(text)
    assert (first.expected, second.expected, second.heading) == ("{}", None, "step")
    code, used = with_printed_values(first.code, {"api": "http://127.0.0.1:18431", "aws": "http://127.0.0.1:18432 (moto)"})
    assert used == {"api", "aws"}
    assert code.splitlines() == ['API=http://127.0.0.1:18431  # the "api:" line',
                                 'export MOTO_PORT=18432  # the port of the "aws:" line']


def test_one_session_carries_variables_and_functions_and_stops_at_the_first_failure(tmp_path):
    outputs, stopped = run_session(["X=1; greet() { echo \"hello $1\"; }", "greet $X", "grep -q absent /dev/null",
                                    "echo never"], tmp_path, {"PATH": "/usr/bin:/bin"})
    assert outputs == ["", "hello 1\n"]
    assert stopped.startswith("block 2 stopped the session (exit status 1)")


# --- the walk-throughs ---------------------------------------------------------------------------------------



def session_environment(stack: LocalStack, tmp: pathlib.Path) -> dict:
    """A newcomer's second terminal: no AWS or stage variables, not even the ports; temporary files in `tmp`."""
    env = clean_environment(stack.api_port, stack.moto_port)
    for name in ("API_PORT", "MOTO_PORT", "PYTHONUNBUFFERED"):
        env.pop(name, None)
    env["TMPDIR"] = str(tmp)
    return env


def test_the_readme_walkthroughs_run_as_written(stack, tmp_path):
    blocks = walkthrough_blocks(README.read_text())
    first, used = with_printed_values(blocks[0].code, printed_lines(stack))
    assert {"api", "team_id", "admin_token"} <= used, (
        f"docs/walkthrough.md:{blocks[0].line}: the walk-through's first block must set the values make run printed "
        f'(a comment naming each line, e.g. # the "team_id:" line); it names {sorted(used)}')
    workdir = tmp_path / "session"
    workdir.mkdir()
    session_tmp = tmp_path / "tmp"
    session_tmp.mkdir()
    codes = [first] + [b.code for b in blocks[1:]]
    outputs, stopped = run_session(codes, workdir, session_environment(stack, session_tmp))

    problems = [p for block, output in zip(blocks, outputs, strict=False) for p in mismatches(block, output)]
    if stopped is not None:
        failed = blocks[len(outputs)]
        problems.append(f"docs/walkthrough.md:{failed.line} ({failed.heading}): {stopped}\n--- the block\n{failed.code}")
    assert not problems, "\n\n".join(problems) + f"\n\n(make run's log: {stack.log.name})"
    assert len(outputs) == len(blocks)
