"""Print a bearer token for a member of the local stack's team (what the README's walk-through uses).

    .venv/bin/python -m devtools.mint_token <team_id> <member_id>     # MOTO_PORT=5555 unless set

A token names the member's generation, which lives in the members table: this reads it from `make run`'s
embedded AWS, and signs with the local stage's secret."""
import os
import sys


def local_token(team_id: str, member_id: str, endpoint: str | None = None) -> str:
    from devtools.stage_env import stage_environment

    os.environ.update(stage_environment("local"))
    os.environ.update({"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local",
                       "AWS_DEFAULT_REGION": "us-east-1",
                       "AWS_ENDPOINT_URL": endpoint or f"http://127.0.0.1:{os.environ.get('MOTO_PORT', '5555')}"})
    from chalicelib import teams

    return teams.bearer_token(team_id, member_id)


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    print(local_token(*argv))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
