"""Kept for scripts that used it: `python -m chalicelib.cli --stage local token --team T --member M` does the
same (and is what docs/walkthrough.md shows).

    .venv/bin/python -m devtools.mint_token <team_id> <member_id>     # MOTO_PORT=5555 unless set
"""
import os
import sys


def local_token(team_id: str, member_id: str, endpoint: str | None = None) -> str:
    """A bearer token for a member of `make run`'s stack (the token names the member's generation, read from
    its embedded AWS at `endpoint`, else AWS_ENDPOINT_URL or MOTO_PORT)."""
    from chalicelib import cli

    if endpoint:
        os.environ["AWS_ENDPOINT_URL"] = endpoint
    cli.use_stage("local", project=cli_project())
    from chalicelib import teams

    return teams.bearer_token(team_id, member_id)


def cli_project():
    from devtools.stage_env import ROOT

    return ROOT


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    print(local_token(*argv))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
