"""Print the checkov checks that deploy/checkov-skips.md skips, comma-separated, for `--skip-check`.

The file is the one place a skip is written, with its reason: a table row `| CKV_... | reason |` per check.
A row without a reason is refused, so no check is skipped silently.

usage: python -m devtools.checkov_skips deploy/checkov-skips.md
"""
import re
import sys

ROW = re.compile(r"^\|\s*`?(CKV2?_AWS_\d+)`?\s*\|(.*)\|\s*$")


def skips(text: str) -> dict[str, str]:
    found = {}
    for line in text.splitlines():
        match = ROW.match(line)
        if match:
            check, reason = match.group(1), match.group(2).strip(" |")
            if not reason:
                raise ValueError(f"{check} is skipped without a reason")
            found[check] = reason
    return found


if __name__ == "__main__":
    with open(sys.argv[1]) as f:
        print(",".join(skips(f.read())))
