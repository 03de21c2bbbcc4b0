"""Operations without writing Python: `python -m chalicelib.cli --help`.

    python -m chalicelib.cli [--stage local|dev|prod] create-team --name N --admin-email E --admin-name A
    python -m chalicelib.cli [--stage ...] token --team T --member M        # a built-in bearer token
    python -m chalicelib.cli [--stage ...] rotate-key                       # Secrets Manager: new current key
    python -m chalicelib.cli [--stage ...] show-request --team T --request R
    python -m chalicelib.cli [--stage ...] verify-record [--without-key] FILE   # FILE or - for stdin

`--stage` reads that stage's variables from `.chalice/config.json` (run it from the project directory);
for dev and prod, TOKEN_SECRET and TOKEN_SECRET_ARN already in your environment win over the file (the file
holds a placeholder secret; a deployment names its own secret). `--stage local` talks to `make run`'s embedded
AWS: AWS_ENDPOINT_URL, else http://127.0.0.1:${MOTO_PORT:-5555}. Without `--stage`, the environment is used as
it is. Uses boto3 and the domain modules, never Chalice, so the Lambda package holds it too.
"""
import argparse
import json
import os
import pathlib
import sys

STAGES = ("local", "dev", "prod")
YOURS_WIN = ("TOKEN_SECRET", "TOKEN_SECRET_ARN")


def stage_environment(stage: str, project: pathlib.Path | None = None) -> dict:
    path = (project or pathlib.Path.cwd()) / ".chalice" / "config.json"
    if not path.exists():
        raise SystemExit(f"{path} not found: run this from the project directory, or leave out --stage")
    config = json.loads(path.read_text())
    env = dict(config["environment_variables"])
    env.update(config["stages"][stage]["environment_variables"])
    return env


def use_stage(stage: str, environ=os.environ, project: pathlib.Path | None = None) -> None:
    """Put the stage's variables into `environ` before any model is imported (models read table names then)."""
    for name, value in stage_environment(stage, project).items():
        # Locally, as in `chalice local`, the file wins: a TOKEN_SECRET in your shell would sign tokens the
        # stack refuses.
        if stage != "local" and name in YOURS_WIN and environ.get(name):
            continue
        environ[name] = value
    if stage != "local":
        # Deployed tables are named by the stack (`make deploy` names it privacy-desk-<stage>): the same names
        # the template gives them, unless your environment names them already.
        from .config import deployed_table_names

        for name, value in deployed_table_names(f"privacy-desk-{stage}").items():
            environ.setdefault(name, value)
    if stage == "local":
        environ.setdefault("AWS_ENDPOINT_URL", f"http://127.0.0.1:{environ.get('MOTO_PORT', '5555')}")
        for name, value in (("AWS_ACCESS_KEY_ID", "local"), ("AWS_SECRET_ACCESS_KEY", "local"),
                            ("AWS_DEFAULT_REGION", "us-east-1")):
            environ.setdefault(name, value)
        if environ.get("TOKEN_SECRET_ARN"):  # the local stage signs with its own TOKEN_SECRET, as `make run` does
            del environ["TOKEN_SECRET_ARN"]


def create_team(args) -> None:
    from . import teams

    team_id, member_id = teams.create_team(args.name, args.admin_email, args.admin_name)
    print("team_id:", team_id)
    print("member_id:", member_id)
    print("admin_token:", teams.bearer_token(team_id, member_id))


def token(args) -> None:
    from . import teams

    print(teams.bearer_token(args.team, args.member))


def rotate_key(args) -> None:
    from . import config, signing_keys

    arn = config.optional("TOKEN_SECRET_ARN")
    if not arn:
        raise SystemExit("rotate-key needs TOKEN_SECRET_ARN (the stage's Secrets Manager secret); the local "
                         "stage's TOKEN_SECRET is not rotated")
    fresh = signing_keys.rotate(arn)
    print("kid:", fresh.kid)
    print("Tokens are now signed with this key; those of the previous key keep working until the next rotation. "
          "Running containers pick it up within 5 minutes.", file=sys.stderr)


def show_request(args) -> None:
    from . import privacy_requests

    print(json.dumps(privacy_requests.get_request(args.team, args.request), indent=2, ensure_ascii=False))


def verify_record(args) -> int:
    """Check a request's record (the JSON GET .../record answered), with the stage's record keys when there are
    some (TOKEN_SECRET_ARN: read from Secrets Manager; TOKEN_SECRET) and --without-key isn't given. Without a
    key only the chain's shape is checked: whoever can write the table could have rebuilt that. Exit 0: it
    verifies; 1: it doesn't; 2: its chain holds, but no key authenticated it."""
    from . import config, request_record, signing_keys

    keyed = not args.without_key and bool(config.optional("TOKEN_SECRET_ARN") or config.optional("TOKEN_SECRET"))
    try:
        text = sys.stdin.read() if args.file == "-" else pathlib.Path(args.file).read_text(encoding="utf-8")
        data = json.loads(text)
        entries = data["entries"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        print(f"not a request record: {exc}", file=sys.stderr)
        return 1
    verdict = request_record.verify(entries, data.get("head"), keys=signing_keys.record_key_for if keyed else None,
                                    first={"team_id": data.get("team_id"), "request_id": data.get("request_id")})
    if not verdict["verifies"]:
        print(f"does NOT verify: {verdict['problem']} (at seq {verdict['at_seq']})")
        return 1
    if not verdict["authenticated"]:
        print(f"NOT authenticated: the chain of {verdict['entries']} entries holds together, but without the record "
              "key anyone who can write the requests table could have rebuilt it; run with --stage (or "
              "TOKEN_SECRET_ARN) to check its keys")
        return 2
    print(f"verifies: {verdict['entries']} entries of request {data.get('request_id')}, head {verdict['head']}, "
          "every entry keyed")
    return 0


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="python -m chalicelib.cli", description="privacy-desk operations.")
    top.add_argument("--stage", choices=STAGES, help="read this stage's variables from .chalice/config.json")
    commands = top.add_subparsers(dest="command", required=True)
    one = commands.add_parser("create-team", help="a team with its first admin; prints their ids and a token")
    one.add_argument("--name", required=True)
    one.add_argument("--admin-email", required=True)
    one.add_argument("--admin-name", required=True)
    one.set_defaults(run=create_team)
    one = commands.add_parser("token", help="a built-in bearer token for a member (service to service)")
    one.add_argument("--team", required=True)
    one.add_argument("--member", required=True)
    one.set_defaults(run=token)
    one = commands.add_parser("rotate-key", help="new current token key in Secrets Manager; old current → previous")
    one.set_defaults(run=rotate_key)
    one = commands.add_parser("show-request", help="a privacy request as the API shows it, in JSON")
    one.add_argument("--team", required=True)
    one.add_argument("--request", required=True)
    one.set_defaults(run=show_request)
    one = commands.add_parser("verify-record", help="check a request's record (GET .../record's JSON) with the "
                                                    "stage's record keys; exit 0 if it verifies, 1 if not, 2 if "
                                                    "it holds together but no key checked it")
    one.add_argument("file", help="the JSON file, or - for stdin")
    one.add_argument("--without-key", action="store_true", help="check only the chain's shape (no key, no AWS)")
    one.set_defaults(run=verify_record)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.stage:
        use_stage(args.stage)
    from .config import WeakSecret
    from .errors import DomainError

    try:
        status = args.run(args)
    except DomainError as exc:
        print(f"{exc.code}: {exc.message}", file=sys.stderr)
        return 1
    except WeakSecret as exc:
        print(exc, file=sys.stderr)
        return 1
    return status or 0


if __name__ == "__main__":
    raise SystemExit(main())
